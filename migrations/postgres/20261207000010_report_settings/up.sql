-- Report card settings (API.md "Report figures, baselines and regressions"). An
-- organization's row has the documented defaults (10 %, charts on), so rows saved before
-- keep working; a project's NULL inherits the organization's value.
ALTER TABLE org_slack_settings ADD COLUMN regression_threshold_pct INTEGER NOT NULL DEFAULT 10
    CHECK (regression_threshold_pct BETWEEN 1 AND 1000);
ALTER TABLE org_slack_settings ADD COLUMN charts BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE project_slack_settings ADD COLUMN regression_threshold_pct INTEGER
    CHECK (regression_threshold_pct BETWEEN 1 AND 1000);
ALTER TABLE project_slack_settings ADD COLUMN charts BOOLEAN;
