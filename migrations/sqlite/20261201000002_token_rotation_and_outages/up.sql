-- Token rotation: Slack apps with rotation on get bot tokens that expire after 12 hours
-- and a refresh token (AES-256-GCM ciphertext like bot_token; Slack retires each refresh
-- token once used, so the new one replaces it).
ALTER TABLE slack_installations ADD COLUMN refresh_token TEXT;
ALTER TABLE slack_installations ADD COLUMN token_expires_at TIMESTAMP;
-- Slack outages: while Slack fails for a workspace, one delivery at a time probes it.
ALTER TABLE slack_installations ADD COLUMN failing_since TIMESTAMP;
ALTER TABLE slack_installations ADD COLUMN next_probe_at TIMESTAMP;
