-- Issue 6: the local Alpaca-compatible paper exchange keeps its own state here (prefix paper_), apart
-- from Quorum's own order_intents/orders/fills: the exchange plays the broker, so a restart of either
-- side finds the other's state intact, and the two can be compared by reconciliation.

-- Singleton account row; sim_now is the exchange's explicit simulated clock.
CREATE TABLE paper_account (
  id            integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  account_id    text NOT NULL,
  cash          double precision NOT NULL,
  last_equity   double precision NOT NULL,
  sim_now       timestamptz NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE paper_orders (
  id               text PRIMARY KEY,
  -- Alpaca refuses a second order with the same client_order_id; so does this table.
  client_order_id  text NOT NULL UNIQUE,
  symbol           text NOT NULL,
  side             text NOT NULL CHECK (side IN ('buy', 'sell')),
  qty              double precision NOT NULL CHECK (qty > 0),
  order_type       text NOT NULL CHECK (order_type IN ('market', 'limit', 'stop')),
  time_in_force    text NOT NULL,
  limit_price      double precision,
  stop_price       double precision,
  order_class      text NOT NULL CHECK (order_class IN ('simple', 'bracket')),
  parent_id        text REFERENCES paper_orders (id),
  leg_role         text CHECK (leg_role IN ('take_profit', 'stop_loss')),
  status           text NOT NULL,
  filled_qty       double precision NOT NULL DEFAULT 0,
  filled_avg_price double precision,
  -- Simulated times (the exchange clock), not wall-clock times.
  submitted_at     timestamptz NOT NULL,
  filled_at        timestamptz,
  canceled_at      timestamptz,
  updated_at       timestamptz NOT NULL,
  seq              bigserial
);
CREATE INDEX paper_orders_status_idx ON paper_orders (status);
CREATE INDEX paper_orders_parent_idx ON paper_orders (parent_id);

CREATE TABLE paper_fills (
  id          text PRIMARY KEY,
  order_id    text NOT NULL REFERENCES paper_orders (id),
  symbol      text NOT NULL,
  side        text NOT NULL CHECK (side IN ('buy', 'sell')),
  qty         double precision NOT NULL CHECK (qty > 0),
  price       double precision NOT NULL CHECK (price > 0),
  commission  double precision NOT NULL DEFAULT 0,
  filled_at   timestamptz NOT NULL
);

CREATE TABLE paper_positions (
  symbol          text PRIMARY KEY,
  -- Signed: positive long, negative short. A flat position's row is deleted.
  qty             double precision NOT NULL,
  avg_entry_price double precision NOT NULL,
  opened_at       timestamptz NOT NULL
);
