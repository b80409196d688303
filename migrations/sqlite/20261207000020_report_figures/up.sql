-- Report figures and baselines (issue 25).
-- The test definition a run belongs to (`load_test.definition`), kept like its name and URL.
ALTER TABLE load_tests ADD COLUMN definition TEXT;
ALTER TABLE load_tests ADD COLUMN definition_name TEXT;

-- One row per run that reached `report_available` with a final summary: what a later run
-- of the same definition is compared with. `definition` is the definition's id, or the
-- run's name when it has none.
CREATE TABLE run_reports (
    load_test_id TEXT PRIMARY KEY NOT NULL,
    org_id       TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    definition   TEXT NOT NULL,
    name         TEXT NOT NULL,
    summary      TEXT NOT NULL,
    reported_at  TIMESTAMP NOT NULL,
    FOREIGN KEY (org_id, project_id) REFERENCES projects(org_id, id) ON DELETE CASCADE
);
CREATE INDEX run_reports_definition ON run_reports (org_id, project_id, definition, reported_at);

-- The pinned baseline of each definition of a project (absent: the previous run).
CREATE TABLE baselines (
    org_id       TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    definition   TEXT NOT NULL,
    load_test_id TEXT NOT NULL,
    set_by       TEXT NOT NULL,
    set_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, project_id, definition),
    FOREIGN KEY (org_id, project_id) REFERENCES projects(org_id, id) ON DELETE CASCADE
);
