-- Event ids are unique per subject (API.md): the stored key becomes
-- "<subject_kind>:<subject_id>:<event_id>" (domain::ids::EventKey), and each event keeps a
-- fingerprint of its body so that a reused id with another body is answered 409.
-- The outbox rows refer to the key, so both move together; the foreign key is checked at
-- commit instead of after each statement.
PRAGMA defer_foreign_keys = ON;
UPDATE deliveries SET event_id = (
    SELECT e.subject_kind || ':' || e.subject_id || ':' || e.event_id
    FROM events e WHERE e.event_id = deliveries.event_id
);
UPDATE events SET event_id = subject_kind || ':' || subject_id || ':' || event_id;
ALTER TABLE events ADD COLUMN body_sha256 TEXT;
