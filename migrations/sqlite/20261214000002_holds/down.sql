DROP INDEX deliveries_held;
DROP INDEX deliveries_sendable_head;
ALTER TABLE deliveries DROP COLUMN hold_id;
DROP TABLE holds;
