-- Acknowledgements and mutes of monitoring incidents (buttons on incident cards, the web
-- UI, the API): one row per scenario, applying while `incident` is the scenario's current
-- incident (pipeline::incidents, rules in domain::incident).
CREATE TABLE scenario_controls (
    scenario_id  TEXT PRIMARY KEY NOT NULL REFERENCES scenarios(id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    incident     BIGINT NOT NULL,
    acked_by_id  TEXT,
    acked_by     TEXT,
    acked_at     TIMESTAMP,
    muted_by_id  TEXT,
    muted_by     TEXT,
    muted_at     TIMESTAMP,            -- set while muted
    muted_until  TIMESTAMP,            -- NULL while muted: until the scenario recovers
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX scenario_controls_project ON scenario_controls(org_id, project_id);

-- Button clicks already applied, so a replayed request (within the signature's 5-minute
-- window) changes nothing; pruned by retention after a day.
CREATE TABLE slack_actions (
    action_key   TEXT PRIMARY KEY NOT NULL,  -- SHA-256 of team, user, message, action, action_ts
    received_at  TIMESTAMP NOT NULL
);
CREATE INDEX slack_actions_received ON slack_actions(received_at);

-- A click names the card by its message: find the thread by it.
CREATE INDEX slack_threads_parent ON slack_threads(team_id, parent_ts);
