-- Outcome memory (ADR 0035): one short, structured record per judged proposal once what happened
-- is known (its position closed or its horizon passed), embedded for similarity search. known_at is
-- when the outcome became known; a search as of T sees only rows with known_at < T.
-- The vector column has no fixed dimension: records are few (one per judged proposal) and searched
-- by an exact scan, so no HNSW index; the embedder's model is stored with each row and a search
-- reads only rows of its own model.
CREATE TABLE outcomes (
  id               text PRIMARY KEY,
  proposal_id      text NOT NULL,
  ticker           text NOT NULL,
  side             text NOT NULL CHECK (side IN ('buy', 'sell')),
  as_of            timestamptz NOT NULL,
  known_at         timestamptz NOT NULL CHECK (known_at > as_of),
  decision         text NOT NULL CHECK (decision IN ('APPROVE', 'REDUCE', 'REJECT', 'ABSTAIN')),
  size_multiplier  double precision NOT NULL CHECK (size_multiplier BETWEEN 0 AND 1),
  confidence       double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
  -- close at known_at / close at as_of - 1 (the raw move), and the move in the proposal's direction.
  forward_return   double precision NOT NULL,
  directional_return double precision NOT NULL,
  horizon_days     integer NOT NULL CHECK (horizon_days > 0),
  -- how it ended: 'horizon' (the horizon passed) or 'closed' (the position closed).
  ended_by         text NOT NULL CHECK (ended_by IN ('horizon', 'closed')),
  summary          text NOT NULL,
  -- an LLM backend's one-line reflection on the outcome; null for the rules baseline.
  reflection       text,
  embedding_model  text NOT NULL,
  embedding        vector NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outcomes_known_idx ON outcomes (embedding_model, known_at);
CREATE INDEX outcomes_ticker_idx ON outcomes (ticker, known_at);

-- Which outcomes a past_outcomes tool call returned (as retrievals does for news): a citation
-- `outcome:<id>` resolves to its call, its run, and the record.
CREATE TABLE outcome_retrievals (
  id           bigserial PRIMARY KEY,
  run_id       text REFERENCES committee_runs (id),
  tool_call_id text REFERENCES tool_calls (id),
  as_of        timestamptz NOT NULL,
  outcome_id   text NOT NULL REFERENCES outcomes (id),
  rank         integer NOT NULL,
  score        double precision NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outcome_retrievals_run_idx ON outcome_retrievals (run_id);
