DROP INDEX slack_threads_parent;
DROP TABLE slack_actions;
DROP TABLE scenario_controls;
