ALTER TABLE project_slack_settings DROP COLUMN charts;
ALTER TABLE project_slack_settings DROP COLUMN regression_threshold_pct;
ALTER TABLE org_slack_settings DROP COLUMN charts;
ALTER TABLE org_slack_settings DROP COLUMN regression_threshold_pct;
