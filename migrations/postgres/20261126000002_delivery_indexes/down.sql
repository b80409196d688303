DROP INDEX deliveries_pending_reports;
DROP INDEX deliveries_pending_head;
