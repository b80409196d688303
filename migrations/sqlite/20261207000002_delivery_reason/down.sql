ALTER TABLE deliveries DROP COLUMN reason;
