-- Every outbox row pays one entry per index, on insert and again on each non-HOT update.
-- These three no longer serve a query: claims and wake-ups use the partial indexes of
-- pending deliveries, and nothing reads deliveries by event or by due time. (Events are
-- never deleted, so the cascade from events does not need deliveries_event either.)
DROP INDEX deliveries_due;
DROP INDEX deliveries_channel;
DROP INDEX deliveries_event;
