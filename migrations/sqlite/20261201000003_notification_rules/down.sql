ALTER TABLE deliveries DROP COLUMN rule;
ALTER TABLE deliveries DROP COLUMN mention;
ALTER TABLE project_slack_settings DROP COLUMN rules;
ALTER TABLE org_slack_settings DROP COLUMN rules;
