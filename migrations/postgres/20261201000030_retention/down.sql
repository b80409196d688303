DROP INDEX events_received;
DROP INDEX deliveries_event;
