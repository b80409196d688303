-- Claims look only at pending deliveries: the head of each channel and pending
-- intermediate reports. Partial indexes keep that cost proportional to the backlog, not
-- to every delivery ever made.
CREATE INDEX deliveries_pending_head ON deliveries(team_id, channel, id) WHERE status = 'pending';
CREATE INDEX deliveries_pending_reports ON deliveries(subject_key, team_id, channel, id)
    WHERE status = 'pending' AND event_type = 'intermediate_report';
