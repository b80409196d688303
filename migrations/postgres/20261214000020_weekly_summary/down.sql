DELETE FROM deliveries WHERE event_id IN (SELECT event_id FROM events WHERE subject_kind = 'summary');
DELETE FROM events WHERE subject_kind = 'summary';
ALTER TABLE events DROP CONSTRAINT events_subject_kind_check;
ALTER TABLE events ADD CONSTRAINT events_subject_kind_check
    CHECK (subject_kind IN ('load_test', 'scenario')) NOT VALID;
DROP INDEX events_org_occurred;
DROP TABLE summaries;
ALTER TABLE project_slack_settings DROP COLUMN summary;
ALTER TABLE org_slack_settings DROP COLUMN summary;
