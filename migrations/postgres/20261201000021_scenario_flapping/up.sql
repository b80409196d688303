-- Flapping scenarios (domain::monitoring): when the state changed recently, whether the
-- scenario is flapping, how often it changed during the flapping incident, and since when
-- a recovery has held (reported once it held long enough).
ALTER TABLE scenarios ADD COLUMN recent_changes TEXT NOT NULL DEFAULT '[]';  -- JSON: RFC 3339 times, newest last
ALTER TABLE scenarios ADD COLUMN flapping_since TIMESTAMP;
ALTER TABLE scenarios ADD COLUMN flap_changes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE scenarios ADD COLUMN ok_since TIMESTAMP;
