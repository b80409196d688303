-- Notification rules (JSON list of {"channel": {"id","name"}, "events": [...], "mention"})
-- at both levels, and on each delivery the mention it carries and the rule(s) that sent it.
ALTER TABLE org_slack_settings ADD COLUMN rules TEXT NOT NULL DEFAULT '[]';
ALTER TABLE project_slack_settings ADD COLUMN rules TEXT NOT NULL DEFAULT '[]';
ALTER TABLE deliveries ADD COLUMN mention TEXT;
ALTER TABLE deliveries ADD COLUMN rule TEXT;
