-- The reason given with a mute (issue 26, "Mute for…"): shown on the card and in the list of
-- mutes; NULL for mutes without one.
ALTER TABLE scenario_controls ADD COLUMN mute_comment TEXT;
