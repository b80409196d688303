-- Event ids are unique per subject (API.md): the stored key becomes
-- "<subject_kind>:<subject_id>:<event_id>" (domain::ids::EventKey), and each event keeps a
-- fingerprint of its body so that a reused id with another body is answered 409.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_id_fkey;
UPDATE deliveries d SET event_id = e.subject_kind || ':' || e.subject_id || ':' || e.event_id
FROM events e WHERE e.event_id = d.event_id;
UPDATE events SET event_id = subject_kind || ':' || subject_id || ':' || event_id;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_id_fkey
    FOREIGN KEY (event_id) REFERENCES events(event_id) ON DELETE CASCADE;
ALTER TABLE events ADD COLUMN body_sha256 TEXT;
