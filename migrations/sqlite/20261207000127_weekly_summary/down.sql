DROP INDEX events_org_occurred;
DROP TABLE summaries;
ALTER TABLE project_slack_settings DROP COLUMN summary;
ALTER TABLE org_slack_settings DROP COLUMN summary;
