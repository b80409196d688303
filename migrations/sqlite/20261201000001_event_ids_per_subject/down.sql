PRAGMA defer_foreign_keys = ON;
UPDATE deliveries SET event_id = (
    SELECT substr(e.event_id, length(e.subject_kind) + length(e.subject_id) + 3)
    FROM events e WHERE e.event_id = deliveries.event_id
);
UPDATE events SET event_id = substr(event_id, length(subject_kind) + length(subject_id) + 3);
ALTER TABLE events DROP COLUMN body_sha256;
