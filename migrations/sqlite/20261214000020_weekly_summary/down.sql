DELETE FROM deliveries WHERE event_id IN (SELECT event_id FROM events WHERE subject_kind = 'summary');
DELETE FROM events WHERE subject_kind = 'summary';
PRAGMA writable_schema = ON;
UPDATE sqlite_master
   SET sql = replace(sql, 'CHECK (subject_kind IN (''load_test'', ''scenario'', ''summary''))',
                          'CHECK (subject_kind IN (''load_test'', ''scenario''))')
 WHERE type = 'table' AND name = 'events';
PRAGMA writable_schema = OFF;
DROP INDEX events_org_occurred;
DROP TABLE summaries;
ALTER TABLE project_slack_settings DROP COLUMN summary;
ALTER TABLE org_slack_settings DROP COLUMN summary;
