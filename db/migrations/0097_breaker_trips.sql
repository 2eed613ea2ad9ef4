-- breaker_trips (execution/ breakers.ts): one row per trip of the circuit breakers, so the
-- `breaker.tripped` audit event (and its notification) is written once per trip, not once per risk
-- check while the book stays REDUCING. A trip is named by the closed trade that tripped it (its
-- close, its model) and the rules it tripped; concurrent order stages insert the same key once.
CREATE TABLE breaker_trips (
  trip_key    text PRIMARY KEY,
  tripped_at  timestamptz NOT NULL,
  model_id    text NOT NULL,
  rules       text[] NOT NULL,
  detail      jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
