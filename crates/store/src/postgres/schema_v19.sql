-- How each webhook subscription's deliveries are signed (see `crate::webhook`): `ed25519` with sanhu's
-- key (what every subscription made before had), or `hmac-sha256` with a secret of the
-- subscription's own, kept sealed under the data key by the service (never in the clear).
ALTER TABLE webhook_subscriptions ADD COLUMN signature TEXT NOT NULL DEFAULT 'ed25519';
ALTER TABLE webhook_subscriptions ADD COLUMN secret TEXT;
-- Pruning finds delivered events by age, and their deliveries and attempts by event.
CREATE INDEX webhook_events_by_created ON webhook_events (created_at);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_attempts_by_event ON webhook_attempts (event_id);
