-- Run-card edits waiting to go out (chat.update): at most one row per card, holding the
-- latest state, so pending edits of the same card collapse into one. Written in the same
-- transaction that records the reply; sent when due, paced per workspace, retried (a 429
-- moves due_at by Retry-After) and deleted once Slack shows this revision.
CREATE TABLE card_edits (
    subject_key     TEXT NOT NULL,
    team_id         TEXT NOT NULL,
    channel         TEXT NOT NULL,     -- the delivery's channel (as slack_threads keys it)
    slack_channel   TEXT NOT NULL,     -- the channel ID Slack answered (chat.update needs it)
    installation_id TEXT NOT NULL,
    org_id          TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    compact         BOOLEAN NOT NULL,
    card            TEXT NOT NULL,     -- JSON: what the card must show
    revision        BIGINT NOT NULL,   -- +1 per write: a send only settles the revision it sent
    due_at          TIMESTAMP NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    claimed_until   TIMESTAMP,
    claimed_by      TEXT,
    created_at      TIMESTAMP NOT NULL,  -- oldest unsent write (the retry window runs from it)
    PRIMARY KEY (subject_key, team_id, channel)
);
CREATE INDEX card_edits_due ON card_edits(due_at);

-- Pacing of one Web API method per workspace (GCRA, like channel_pacing): chat.update is
-- Tier 3 (~50 a minute per workspace).
CREATE TABLE workspace_pacing (
    team_id          TEXT NOT NULL,
    method           TEXT NOT NULL,
    next_allowed_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (team_id, method)
);
