ALTER TABLE scenarios DROP COLUMN ok_since;
ALTER TABLE scenarios DROP COLUMN flap_changes;
ALTER TABLE scenarios DROP COLUMN flapping_since;
ALTER TABLE scenarios DROP COLUMN recent_changes;
