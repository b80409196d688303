-- The weekly summary (API.md "Weekly summary", issue 27).
-- The setting, JSON of domain::summary::SummarySchedule; NULL: off (organization) or the
-- organization's applies (project).
ALTER TABLE org_slack_settings ADD COLUMN summary TEXT;
ALTER TABLE project_slack_settings ADD COLUMN summary TEXT;

-- One row per summary queued: (organization, project or '' for the organization's, end of
-- its period). Inserted in the transaction that queues the summary's event and deliveries,
-- so a second instance (or a restart) that computed the same period conflicts and sends
-- nothing. `manual` rows are "send now" (their period_end is the moment it was asked).
CREATE TABLE summaries (
    org_id       TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    period_end   TIMESTAMP NOT NULL,
    period_start TIMESTAMP NOT NULL,
    event_id     TEXT NOT NULL,
    manual       BOOLEAN NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, project_id, period_end),
    FOREIGN KEY (org_id) REFERENCES organizations(id) ON DELETE CASCADE
);

-- A summary reads one scope's week of events: by organization and time, not the whole
-- history (the bench's year of five million rows).
CREATE INDEX events_org_occurred ON events (org_id, occurred_at);

-- A summary is an event of its own kind (events.subject_kind 'summary'). Existing rows all
-- satisfy the wider check, so it is not validated against them (no scan of the history).
ALTER TABLE events DROP CONSTRAINT events_subject_kind_check;
ALTER TABLE events ADD CONSTRAINT events_subject_kind_check
    CHECK (subject_kind IN ('load_test', 'scenario', 'summary')) NOT VALID;
