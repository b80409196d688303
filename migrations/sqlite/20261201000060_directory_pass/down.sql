ALTER TABLE channel_directories DROP COLUMN pass_started_at;
