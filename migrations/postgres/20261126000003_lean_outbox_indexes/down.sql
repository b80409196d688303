CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
CREATE INDEX deliveries_channel ON deliveries(team_id, channel, status, id);
CREATE INDEX deliveries_event ON deliveries(event_id);
