-- The weekly summary's tallies (issue 27 item 5): what a summary reads, kept up to date at
-- ingest, so a summary reads a week's runs and health changes instead of a week of events.

-- A load test's span and end, in event time: first and latest event, and when it first
-- reached finished, aborted or error. NULL in rows written before this migration.
ALTER TABLE load_tests ADD COLUMN first_event_at TIMESTAMP;
ALTER TABLE load_tests ADD COLUMN last_event_at TIMESTAMP;
ALTER TABLE load_tests ADD COLUMN ended_at TIMESTAMP;
-- A summary's runs: the scope's load tests with an event at or after the period's start,
-- counted from the index alone.
CREATE INDEX load_tests_org_last_event
    ON load_tests (org_id, last_event_at, project_id, first_event_at, ended_at, state);

-- A final report's P95, its link, and its worst regressed figure (metric, value, the
-- baseline's value; NULL metric: not a regression).
ALTER TABLE run_reports ADD COLUMN p95_ms DOUBLE;
ALTER TABLE run_reports ADD COLUMN report_url TEXT;
ALTER TABLE run_reports ADD COLUMN regression_metric TEXT;
ALTER TABLE run_reports ADD COLUMN regression_value DOUBLE;
ALTER TABLE run_reports ADD COLUMN regression_baseline DOUBLE;
-- A summary's reports: the scope's final reports of the period, from the index alone,
-- and its regressions (one report in fifty on the bench's history) without the others.
CREATE INDEX run_reports_org_reported
    ON run_reports (org_id, reported_at, project_id, definition, p95_ms);
CREATE INDEX run_reports_org_regressed ON run_reports (org_id, reported_at)
    WHERE regression_metric IS NOT NULL;

-- A scenario's first result, in event time (its observation starts there); NULL in rows
-- written before this migration (their `created_at` stands in).
ALTER TABLE scenarios ADD COLUMN first_result_at TIMESTAMP;
-- A summary's scenarios: the scope's, not every organization's.
CREATE INDEX scenarios_org ON scenarios (org_id, project_id);

-- A scenario's health changes, incidents, acknowledgements and mutes: every event of a
-- scenario but its unchanged and stale results (a few in a thousand).
CREATE INDEX events_scenario_changes ON events (org_id, subject_id, occurred_at)
    WHERE subject_kind = 'scenario' AND event_type NOT IN ('scenario_unchanged', 'scenario_stale');

-- Since when the columns above are written, in a database that had events before this
-- migration: a period that starts earlier is summed up from its events, as before. No row:
-- they were written from the first event on.
CREATE TABLE summary_tallies (
    id    INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    since TIMESTAMP NOT NULL
);
INSERT INTO summary_tallies (id, since)
SELECT 1, strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE EXISTS (SELECT 1 FROM events);
