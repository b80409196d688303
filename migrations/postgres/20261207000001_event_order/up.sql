-- Late Slack events and late monitoring results change nothing newer than themselves.
-- The Events API `event_time` (whole seconds) of the last channel event applied to a
-- channel: an older event of that channel is not applied (services::slack_events).
ALTER TABLE slack_channels ADD COLUMN event_at TIMESTAMP;
-- The `occurred_at` of the newest result applied to a scenario: an older one is kept in the
-- history but changes nothing (pipeline::ingest).
ALTER TABLE scenarios ADD COLUMN last_result_at TIMESTAMP;
