-- When the directory's current listing pass began: channels not seen since then when the
-- pass ends were deleted in Slack (pipeline::channel_directory).
ALTER TABLE channel_directories ADD COLUMN pass_started_at TIMESTAMP;
