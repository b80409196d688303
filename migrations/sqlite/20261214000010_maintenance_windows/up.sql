-- Maintenance windows (API.md "Maintenance windows"): one-off (starts_at, ends_at) or
-- weekly (days, from, to, timezone) for an organization (project_id '') or a project.
CREATE TABLE maintenance_windows (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id       TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    starts_at    TIMESTAMP,
    ends_at      TIMESTAMP,
    weekly_days  TEXT,
    weekly_from  TEXT,
    weekly_to    TEXT,
    timezone     TEXT,
    -- JSON array of scenario ids; NULL: every scenario of the scope.
    scenarios    TEXT,
    reason       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    CHECK ((starts_at IS NOT NULL AND ends_at IS NOT NULL AND weekly_days IS NULL)
        OR (starts_at IS NULL AND ends_at IS NULL AND weekly_days IS NOT NULL
            AND weekly_from IS NOT NULL AND weekly_to IS NOT NULL AND timezone IS NOT NULL))
);
CREATE INDEX maintenance_windows_scope ON maintenance_windows (org_id, project_id);
-- An incident whose changes a window skipped, until the window's occurrence ends
-- (`until_at`): then it is released once (the instance that deletes the row posts the
-- incident if it is still failing). One row per incident.
CREATE TABLE maintenance_holds (
    scenario_id     TEXT NOT NULL,
    incident        BIGINT NOT NULL,
    org_id          TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    window_id       BIGINT NOT NULL,
    reason          TEXT NOT NULL,
    until_at        TIMESTAMP NOT NULL,
    -- The incident opened inside the window (its opening was skipped).
    opened_inside   BOOLEAN NOT NULL,
    failing_since   TIMESTAMP,
    -- The newest skipped change (its payload is what the released incident shows).
    event_id        TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (scenario_id, incident)
);
CREATE INDEX maintenance_holds_due ON maintenance_holds (until_at);
