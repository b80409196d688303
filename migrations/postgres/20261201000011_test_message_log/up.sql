-- "Send Test Message" results, one row per channel, shown in the delivery logs next to the
-- deliveries of events (as event type test_message). A table of their own because every
-- delivery row belongs to a stored event (deliveries.event_id references events).
CREATE TABLE test_messages (
    id            BIGSERIAL PRIMARY KEY,
    org_id        TEXT NOT NULL,
    project_id    TEXT NOT NULL DEFAULT '',  -- '' = the organization's own settings
    channel       TEXT NOT NULL,             -- what chat.postMessage got (ID or #name)
    channel_name  TEXT,
    team_id       TEXT,
    status        TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
    error         TEXT,
    sent_by       TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX test_messages_scope ON test_messages(org_id, project_id, id);
