-- Retention (pipeline::retention) deletes history in small batches. Old events are found
-- by age, and an event may go once no delivery references it: both lookups, and the
-- cascade from events to deliveries, need an index (20261126000003 dropped
-- deliveries_event while nothing was ever deleted).
CREATE INDEX deliveries_event ON deliveries(event_id);
CREATE INDEX events_received ON events(received_at);
