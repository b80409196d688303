ALTER TABLE slack_installations DROP COLUMN next_probe_at;
ALTER TABLE slack_installations DROP COLUMN failing_since;
ALTER TABLE slack_installations DROP COLUMN token_expires_at;
ALTER TABLE slack_installations DROP COLUMN refresh_token;
