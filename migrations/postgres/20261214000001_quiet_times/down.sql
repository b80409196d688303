DROP INDEX load_tests_active;
ALTER TABLE project_slack_settings DROP COLUMN during_load_tests;
ALTER TABLE org_slack_settings DROP COLUMN during_load_tests;
