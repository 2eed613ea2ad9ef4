-- Every decision on a staging model: promoted to production or refused, by whom (the scheduler,
-- `quorum train`, `quorum model promote`, the backtest), why, with the rule and the metrics it was
-- judged by. Append-only, like audit_events (each decision is also written there).
CREATE TABLE model_promotions (
  id                 bigserial PRIMARY KEY,
  at                 timestamptz NOT NULL DEFAULT now(),
  model_id           text NOT NULL,
  candidate_version  text NOT NULL,
  -- The production version it was compared with (null: there was none).
  production_version text,
  decision           text NOT NULL CHECK (decision IN ('promoted', 'refused')),
  -- What decided: 'train', 'schedule', 'manual' (quorum model promote).
  actor              text NOT NULL,
  -- Who: user@host of the process.
  who                text NOT NULL,
  reason             text NOT NULL,
  rule               jsonb NOT NULL DEFAULT '{}'::jsonb,
  metrics            jsonb NOT NULL DEFAULT '{}'::jsonb,
  FOREIGN KEY (model_id, candidate_version) REFERENCES models (id, version)
);
CREATE INDEX model_promotions_model_idx ON model_promotions (model_id, at);

CREATE FUNCTION model_promotions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'model_promotions is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER model_promotions_no_update BEFORE UPDATE OR DELETE ON model_promotions
  FOR EACH ROW EXECUTE FUNCTION model_promotions_append_only();
