DROP TABLE maintenance_holds;
DROP TABLE maintenance_windows;
