ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_id_fkey;
UPDATE deliveries d SET event_id = substr(d.event_id, length(e.subject_kind) + length(e.subject_id) + 3)
FROM events e WHERE e.event_id = d.event_id;
UPDATE events SET event_id = substr(event_id, length(subject_kind) + length(subject_id) + 3);
ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_id_fkey
    FOREIGN KEY (event_id) REFERENCES events(event_id) ON DELETE CASCADE;
ALTER TABLE events DROP COLUMN body_sha256;
