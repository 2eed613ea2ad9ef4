-- Model governance in live operation (docs/adr/0036-model-health-gate-and-breakers.md).
--
-- model_health (ml/ drift-gate.ts): the proposer's drift and health score as each session computed
-- them, and what the session did with it: proceed (healthy), abstain (unhealthy, or unhealthy
-- before and neither retrained nor overridden since) or overridden (unhealthy, a user's override
-- holds).
CREATE TABLE model_health (
  session_id    text PRIMARY KEY REFERENCES sessions (id),
  model_id      text NOT NULL,
  model_version text NOT NULL,
  as_of         timestamptz NOT NULL,
  health_score  double precision NOT NULL CHECK (health_score BETWEEN 0 AND 1),
  healthy       boolean NOT NULL,
  gate          text NOT NULL CHECK (gate IN ('proceed', 'abstain', 'overridden')),
  reason        text NOT NULL,
  report        jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_health_model_idx ON model_health (model_id, model_version, created_at);

-- model_overrides (ml/ drift-gate.ts): a user lets one model version trade although its health
-- score is below the threshold; who, when and why (also in the audit log). Revoked, it no longer holds.
CREATE TABLE model_overrides (
  id            text PRIMARY KEY,
  model_id      text NOT NULL,
  model_version text NOT NULL,
  reason        text NOT NULL,
  actor         text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz,
  revoked_by    text
);
CREATE UNIQUE INDEX model_overrides_active_idx ON model_overrides (model_id, model_version) WHERE revoked_at IS NULL;

-- model_halts (execution/ model-halts.ts): the per-model kill switch beside the global one. A row
-- means proposals of that model id may send no order; resuming deletes it (both audited).
CREATE TABLE model_halts (
  model_id   text PRIMARY KEY,
  reason     text NOT NULL,
  actor      text NOT NULL,
  halted_at  timestamptz NOT NULL DEFAULT now()
);
