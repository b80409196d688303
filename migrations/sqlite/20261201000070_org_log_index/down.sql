DROP INDEX deliveries_org;
