ALTER TABLE scenarios DROP COLUMN last_result_at;
ALTER TABLE slack_channels DROP COLUMN event_at;
