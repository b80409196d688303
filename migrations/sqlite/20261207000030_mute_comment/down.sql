ALTER TABLE scenario_controls DROP COLUMN mute_comment;
