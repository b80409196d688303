-- Web UI sign-ins, so that signing out ends a session on the server: the cookie holds a
-- random session id, only its SHA-256 is stored, and sign-out deletes the row (a copy of
-- the cookie taken before then no longer works).
CREATE TABLE ui_sessions (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    token_id    TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);
CREATE INDEX ui_sessions_expires ON ui_sessions(expires_at);
