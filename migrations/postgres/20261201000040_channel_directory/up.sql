-- A per-workspace channel directory (pipeline::channel_directory): built page by page in
-- the background from conversations.list (resumable by cursor), kept current by channel
-- events; its channels are the workspace's rows of slack_channels.
CREATE TABLE channel_directories (
    team_id TEXT PRIMARY KEY NOT NULL,
    status TEXT NOT NULL,
    cursor TEXT,
    pages INTEGER NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX slack_channels_team_name ON slack_channels(team_id, name);
