-- Notifications (notify/): the audit log is the outbox. The notifier reads audit events past its
-- cursor, writes one delivery row per (event, target) and POSTs it; a row recorded delivered is
-- never sent again, also by a restarted process or a second one on the same database.

-- Singleton: the highest audit event id the notifier has read past (every event up to it has its
-- delivery rows). Created at the newest event when the notifier first starts.
CREATE TABLE notification_cursor (
  id            integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  last_event_id bigint NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notification_deliveries (
  id            bigserial PRIMARY KEY,
  event_id      bigint NOT NULL REFERENCES audit_events (id),
  -- A target's name in settings.yaml notifications.targets (never its URL).
  target        text NOT NULL,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  -- POSTs made so far; a restarted notifier goes on from here up to notifications.maxAttempts.
  attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error    text,
  -- A notifier working on a pending row holds it until then; a row whose holder died is taken again.
  locked_until  timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  delivered_at  timestamptz,
  UNIQUE (event_id, target)
);
CREATE INDEX notification_deliveries_pending_idx ON notification_deliveries (event_id) WHERE status = 'pending';
