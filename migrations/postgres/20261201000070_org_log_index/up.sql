-- The organization's delivery log (newest first across its projects): without it, a large
-- outbox made SQLite sort every row of the organization (334 ms with 5 million rows).
CREATE INDEX deliveries_org ON deliveries(org_id, id);
