-- Quorum initial schema: everything a session stores, on PGlite and PostgreSQL alike.
-- Conventions: text ids chosen by the application (stable, citeable), timestamptz everywhere,
-- double precision for prices and quantities, jsonb for validated contract payloads.

CREATE EXTENSION IF NOT EXISTS vector;

-- Market data ---------------------------------------------------------------
CREATE TABLE bars (
  ticker      text NOT NULL,
  timeframe   text NOT NULL DEFAULT '1Day',
  ts          timestamptz NOT NULL,
  open        double precision,
  high        double precision,
  low         double precision,
  close       double precision NOT NULL CHECK (close > 0),
  volume      double precision CHECK (volume IS NULL OR volume >= 0),
  source      text NOT NULL,
  ingested_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ticker, timeframe, ts)
);
CREATE INDEX bars_ts_idx ON bars (ts);

-- ML ------------------------------------------------------------------------
CREATE TABLE feature_snapshots (
  id                  text PRIMARY KEY,
  feature_set         text NOT NULL,
  feature_set_version text NOT NULL,
  as_of               timestamptz NOT NULL,
  tickers             text[] NOT NULL,
  feature_names       text[] NOT NULL,
  payload             jsonb NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feature_snapshots_as_of_idx ON feature_snapshots (feature_set_version, as_of);

CREATE TABLE models (
  id          text NOT NULL,
  version     text NOT NULL,
  stage       text NOT NULL DEFAULT 'research' CHECK (stage IN ('research', 'staging', 'production', 'archived')),
  path        text NOT NULL,
  sha256      text NOT NULL,
  card        jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  promoted_at timestamptz,
  PRIMARY KEY (id, version)
);
-- At most one production model per id.
CREATE UNIQUE INDEX models_one_production_idx ON models (id) WHERE stage = 'production';

-- Sessions ------------------------------------------------------------------
CREATE TABLE sessions (
  id          text PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('scheduled', 'manual', 'demo', 'api', 'backtest')),
  -- One session per schedule slot (e.g. '2026-11-20T09:00 America/New_York'); null for ad hoc runs.
  slot        text UNIQUE,
  as_of       timestamptz NOT NULL,
  status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed', 'awaiting_approval')),
  backend     text,
  config      jsonb NOT NULL DEFAULT '{}'::jsonb,
  stats       jsonb NOT NULL DEFAULT '{}'::jsonb,
  report_path text,
  error       text,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);

CREATE TABLE proposals (
  id                  text PRIMARY KEY,
  session_id          text REFERENCES sessions (id),
  ticker              text NOT NULL,
  side                text NOT NULL CHECK (side IN ('buy', 'sell')),
  probability         double precision NOT NULL CHECK (probability BETWEEN 0 AND 1),
  expected_return     double precision NOT NULL,
  horizon_days        integer NOT NULL CHECK (horizon_days > 0),
  model_id            text NOT NULL,
  model_version       text NOT NULL,
  feature_snapshot_id text NOT NULL REFERENCES feature_snapshots (id),
  as_of               timestamptz NOT NULL,
  payload             jsonb NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX proposals_session_idx ON proposals (session_id);
CREATE INDEX proposals_as_of_idx ON proposals (as_of, ticker);

-- News RAG ------------------------------------------------------------------
-- The embedding dimension is fixed per store: embedding_store holds the one (model, dimension) the
-- news_items.embedding column was sized for. Binding a different model or dimension is refused
-- (db/embedding-store.ts); the column's vector(N) type refuses a wrong-sized vector as well.
CREATE TABLE embedding_store (
  id         integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  model      text NOT NULL,
  dimension  integer NOT NULL CHECK (dimension > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE news_items (
  id            text PRIMARY KEY,
  source        text NOT NULL,
  guid          text,
  url           text,
  canonical_url text,
  title         text NOT NULL,
  body          text NOT NULL DEFAULT '',
  published_at  timestamptz NOT NULL,
  content_hash  text NOT NULL,
  sentiment     double precision,
  embedding     vector(512),
  metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
  ingested_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX news_items_canonical_url_idx ON news_items (canonical_url) WHERE canonical_url IS NOT NULL;
CREATE UNIQUE INDEX news_items_guid_idx ON news_items (source, guid) WHERE guid IS NOT NULL;
CREATE UNIQUE INDEX news_items_content_hash_idx ON news_items (content_hash);
CREATE INDEX news_items_published_idx ON news_items (published_at);
CREATE INDEX news_items_embedding_hnsw_idx ON news_items USING hnsw (embedding vector_cosine_ops);

CREATE TABLE news_tickers (
  news_id    text NOT NULL REFERENCES news_items (id) ON DELETE CASCADE,
  ticker     text NOT NULL,
  confidence double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
  method     text NOT NULL,
  PRIMARY KEY (news_id, ticker)
);
CREATE INDEX news_tickers_ticker_idx ON news_tickers (ticker);

CREATE TABLE feeds (
  url            text PRIMARY KEY,
  name           text NOT NULL,
  etag           text,
  last_modified  text,
  last_polled_at timestamptz,
  last_status    text,
  last_error     text
);

-- Committee runs --------------------------------------------------------------
CREATE TABLE committee_runs (
  id           text PRIMARY KEY,
  session_id   text REFERENCES sessions (id),
  proposal_id  text NOT NULL REFERENCES proposals (id),
  thread_id    text NOT NULL,
  backend      text NOT NULL,
  status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
  stats        jsonb NOT NULL DEFAULT '{}'::jsonb,
  error        text,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz
);
CREATE INDEX committee_runs_proposal_idx ON committee_runs (proposal_id);
CREATE INDEX committee_runs_session_idx ON committee_runs (session_id);

CREATE TABLE agent_messages (
  id                bigserial PRIMARY KEY,
  run_id            text NOT NULL REFERENCES committee_runs (id),
  node              text NOT NULL,
  agent             text NOT NULL,
  round             integer NOT NULL DEFAULT 0,
  message_role      text NOT NULL CHECK (message_role IN ('system', 'user', 'assistant', 'tool')),
  content           text NOT NULL,
  prompt_version    text,
  tokens_prompt     integer,
  tokens_completion integer,
  latency_ms        double precision,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_messages_run_idx ON agent_messages (run_id, id);

CREATE TABLE tool_calls (
  id            text PRIMARY KEY,
  run_id        text NOT NULL REFERENCES committee_runs (id),
  agent         text NOT NULL,
  tool          text NOT NULL,
  args          jsonb NOT NULL,
  ok            boolean NOT NULL,
  error_code    text,
  result_digest text,
  result_chars  integer,
  latency_ms    double precision NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tool_calls_run_idx ON tool_calls (run_id);

CREATE TABLE retrievals (
  id           bigserial PRIMARY KEY,
  run_id       text REFERENCES committee_runs (id),
  tool_call_id text REFERENCES tool_calls (id),
  query        text NOT NULL,
  as_of        timestamptz NOT NULL,
  ticker       text,
  news_id      text NOT NULL REFERENCES news_items (id),
  rank         integer NOT NULL,
  score        double precision NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX retrievals_run_idx ON retrievals (run_id);

CREATE TABLE verdicts (
  id                text PRIMARY KEY,
  run_id            text REFERENCES committee_runs (id),
  proposal_id       text NOT NULL REFERENCES proposals (id),
  decision          text NOT NULL CHECK (decision IN ('APPROVE', 'REDUCE', 'REJECT', 'ABSTAIN')),
  size_multiplier   double precision NOT NULL CHECK (size_multiplier BETWEEN 0 AND 1),
  confidence        double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
  backend           text NOT NULL,
  model             text NOT NULL,
  prompt_version    text NOT NULL,
  tokens_prompt     integer NOT NULL DEFAULT 0,
  tokens_completion integer NOT NULL DEFAULT 0,
  payload           jsonb NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX verdicts_proposal_idx ON verdicts (proposal_id);

CREATE TABLE approvals (
  id          text PRIMARY KEY,
  run_id      text NOT NULL REFERENCES committee_runs (id),
  verdict_id  text NOT NULL REFERENCES verdicts (id),
  status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
  decided_by  text,
  reason      text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  decided_at  timestamptz
);

-- Risk and execution ------------------------------------------------------------
CREATE TABLE trading_state (
  id         integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  state      text NOT NULL CHECK (state IN ('ACTIVE', 'REDUCING', 'HALTED')),
  reason     text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO trading_state (id, state, reason) VALUES (1, 'ACTIVE', 'initial');

CREATE TABLE risk_decisions (
  id            text PRIMARY KEY,
  verdict_id    text NOT NULL REFERENCES verdicts (id),
  proposal_id   text NOT NULL REFERENCES proposals (id),
  action        text NOT NULL CHECK (action IN ('ALLOW', 'RESIZE', 'DENY')),
  requested_qty integer NOT NULL CHECK (requested_qty >= 0),
  final_qty     integer NOT NULL CHECK (final_qty >= 0),
  stop          double precision,
  target        double precision,
  trading_state text NOT NULL,
  payload       jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE risk_rule_results (
  decision_id text NOT NULL REFERENCES risk_decisions (id),
  rule        text NOT NULL,
  passed      boolean NOT NULL,
  detail      text NOT NULL,
  PRIMARY KEY (decision_id, rule)
);
CREATE INDEX risk_rule_results_failed_idx ON risk_rule_results (rule) WHERE NOT passed;

CREATE TABLE order_intents (
  id               text PRIMARY KEY,
  client_order_id  text NOT NULL UNIQUE,
  session_id       text NOT NULL,
  risk_decision_id text REFERENCES risk_decisions (id),
  ticker           text NOT NULL,
  side             text NOT NULL CHECK (side IN ('buy', 'sell')),
  qty              double precision NOT NULL CHECK (qty > 0),
  order_type       text NOT NULL,
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'submitted', 'unknown', 'accepted', 'rejected', 'filled', 'canceled')),
  payload          jsonb NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
  id               text PRIMARY KEY,
  client_order_id  text NOT NULL UNIQUE,
  intent_id        text REFERENCES order_intents (id),
  broker           text NOT NULL,
  ticker           text NOT NULL,
  side             text NOT NULL,
  qty              double precision NOT NULL,
  order_type       text NOT NULL,
  order_class      text NOT NULL DEFAULT 'simple',
  parent_id        text,
  status           text NOT NULL,
  filled_qty       double precision NOT NULL DEFAULT 0,
  filled_avg_price double precision,
  submitted_at     timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  raw              jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE fills (
  id          text PRIMARY KEY,
  order_id    text NOT NULL,
  ticker      text NOT NULL,
  side        text NOT NULL CHECK (side IN ('buy', 'sell')),
  qty         double precision NOT NULL CHECK (qty > 0),
  price       double precision NOT NULL CHECK (price > 0),
  commission  double precision NOT NULL DEFAULT 0,
  filled_at   timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fills_ticker_idx ON fills (ticker, filled_at);

-- Derived from fills (execution rebuilds it); kept as a table for fast reads.
CREATE TABLE positions (
  ticker     text PRIMARY KEY,
  qty        double precision NOT NULL,
  avg_price  double precision NOT NULL,
  opened_at  timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE equity_history (
  ts       timestamptz PRIMARY KEY,
  equity   double precision NOT NULL,
  cash     double precision NOT NULL,
  source   text NOT NULL
);

-- Audit -------------------------------------------------------------------------
CREATE TABLE audit_events (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  kind      text NOT NULL,
  entity    text NOT NULL,
  entity_id text NOT NULL,
  payload   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_entity_idx ON audit_events (entity, entity_id);

-- Append-only: updates and deletes of the audit log are refused by the database itself.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- API ---------------------------------------------------------------------------
CREATE TABLE api_tokens (
  id         text PRIMARY KEY,
  name       text NOT NULL,
  scope      text NOT NULL CHECK (scope IN ('read', 'control')),
  -- sha256 of the token; the token itself is shown once at creation and never stored.
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
