-- The whole xtc-slack schema. Times are UTC (TIMESTAMP without zone on both backends).
-- Project-level rows use project_id = '' to mean "the organization itself", so that a
-- UNIQUE constraint covers both levels (NULLs would be distinct).

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE projects (
    org_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, id)
);

-- API tokens: only a SHA-256 of the token is kept. org_id/project_id carry no foreign
-- key on purpose: an admin token may be created before its org is registered.
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('service', 'admin')),
    org_id      TEXT,
    project_id  TEXT,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);

CREATE TABLE org_slack_settings (
    org_id            TEXT PRIMARY KEY NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    send_messages     BOOLEAN NOT NULL,
    threads           BOOLEAN NOT NULL,
    compact_messages  BOOLEAN NOT NULL,
    target_channels   TEXT NOT NULL,  -- JSON array of {"id": "C…"|null, "name": "…"|null}
    updated_at        TIMESTAMP NOT NULL,
    updated_by        TEXT NOT NULL
);

CREATE TABLE project_slack_settings (
    org_id            TEXT NOT NULL,
    project_id        TEXT NOT NULL,
    send_messages     BOOLEAN NOT NULL,
    threads           BOOLEAN,
    compact_messages  BOOLEAN,
    target_channels   TEXT NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    updated_by        TEXT NOT NULL,
    PRIMARY KEY (org_id, project_id),
    FOREIGN KEY (org_id, project_id) REFERENCES projects(org_id, id) ON DELETE CASCADE
);

-- One Slack installation per organization (project_id = '') or per project.
CREATE TABLE slack_installations (
    id             TEXT PRIMARY KEY NOT NULL,
    org_id         TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    project_id     TEXT NOT NULL DEFAULT '',
    team_id        TEXT NOT NULL,
    team_name      TEXT NOT NULL,
    app_id         TEXT NOT NULL,
    bot_user_id    TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    bot_token      TEXT NOT NULL,  -- AES-256-GCM ciphertext (base64), never clear text
    status         TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    status_reason  TEXT,
    installed_by   TEXT NOT NULL,
    installed_at   TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    UNIQUE (org_id, project_id)
);
CREATE INDEX slack_installations_team ON slack_installations(team_id);

-- OAuth install states: only a hash is stored; single use, short-lived.
CREATE TABLE oauth_states (
    state_hash  TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL DEFAULT '',
    token_id    TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);

-- What we know about Slack channels, kept current by Slack events and health checks.
CREATE TABLE slack_channels (
    team_id      TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    is_private   BOOLEAN NOT NULL DEFAULT FALSE,
    is_archived  BOOLEAN NOT NULL DEFAULT FALSE,
    is_deleted   BOOLEAN NOT NULL DEFAULT FALSE,
    checked_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (team_id, channel_id)
);

CREATE TABLE load_tests (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    url         TEXT,
    started_by  TEXT,
    state       TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    FOREIGN KEY (org_id, project_id) REFERENCES projects(org_id, id) ON DELETE CASCADE
);

CREATE TABLE scenarios (
    id             TEXT PRIMARY KEY NOT NULL,
    org_id         TEXT NOT NULL,
    project_id     TEXT NOT NULL,
    name           TEXT NOT NULL,
    url            TEXT,
    state          TEXT NOT NULL,
    failing_since  TIMESTAMP,
    incident       BIGINT NOT NULL DEFAULT 0,
    version        BIGINT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    FOREIGN KEY (org_id, project_id) REFERENCES projects(org_id, id) ON DELETE CASCADE
);

-- Every accepted event, keyed by the sender's event_id (duplicates are detected here).
CREATE TABLE events (
    event_id         TEXT PRIMARY KEY NOT NULL,
    subject_kind     TEXT NOT NULL CHECK (subject_kind IN ('load_test', 'scenario')),
    subject_id       TEXT NOT NULL,
    org_id           TEXT NOT NULL,
    project_id       TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    occurred_at      TIMESTAMP NOT NULL,
    payload          TEXT NOT NULL,
    resulting_state  TEXT NOT NULL,
    received_at      TIMESTAMP NOT NULL
);

-- The outbox: one row per (event, target channel), written in the ingest transaction.
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         TEXT NOT NULL REFERENCES events(event_id) ON DELETE CASCADE,
    org_id           TEXT NOT NULL,
    project_id       TEXT NOT NULL,
    subject_key      TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    channel          TEXT NOT NULL,
    channel_name     TEXT,
    team_id          TEXT,
    installation_id  TEXT,
    threads          BOOLEAN NOT NULL,
    compact          BOOLEAN NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    next_attempt_at  TIMESTAMP NOT NULL,
    claimed_until    TIMESTAMP,
    claimed_by       TEXT,
    slack_ts         TEXT,
    created_at       TIMESTAMP NOT NULL,
    sent_at          TIMESTAMP
);
CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
CREATE INDEX deliveries_project ON deliveries(org_id, project_id, id);
CREATE INDEX deliveries_channel ON deliveries(team_id, channel, status, id);
CREATE INDEX deliveries_event ON deliveries(event_id);

-- Thread parents: the first message about a subject in a channel, edited into a run card.
CREATE TABLE slack_threads (
    subject_key  TEXT NOT NULL,
    team_id      TEXT NOT NULL,
    channel      TEXT NOT NULL,
    parent_ts    TEXT NOT NULL,
    card         TEXT NOT NULL,  -- JSON: what the parent message currently shows
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (subject_key, team_id, channel)
);

-- Per-channel pacing shared by all instances (Slack allows ~1 message/s per channel).
CREATE TABLE channel_pacing (
    team_id          TEXT NOT NULL,
    channel          TEXT NOT NULL,
    next_allowed_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (team_id, channel)
);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TIMESTAMP NOT NULL,
    actor       TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    project_id  TEXT,
    action      TEXT NOT NULL,
    details     TEXT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log(org_id, id);
