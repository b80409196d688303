-- Setting `during_load_tests` (API.md "During load tests"): notify | annotate | hold. An
-- organization's row has the documented default; a project's NULL inherits it.
ALTER TABLE org_slack_settings ADD COLUMN during_load_tests TEXT NOT NULL DEFAULT 'annotate'
    CHECK (during_load_tests IN ('notify', 'annotate', 'hold'));
ALTER TABLE project_slack_settings ADD COLUMN during_load_tests TEXT
    CHECK (during_load_tests IN ('notify', 'annotate', 'hold'));
-- The load tests that are started or running, per project: a scenario's incident that
-- opens then names the earliest of them (one probe per opening incident, never a scan).
CREATE INDEX load_tests_active ON load_tests (org_id, project_id, created_at)
    WHERE state IN ('started', 'running');
