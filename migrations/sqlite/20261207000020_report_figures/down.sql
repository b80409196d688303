DROP TABLE baselines;
DROP TABLE run_reports;
ALTER TABLE load_tests DROP COLUMN definition_name;
ALTER TABLE load_tests DROP COLUMN definition;
