DROP INDEX slack_channels_team_name;
DROP TABLE channel_directories;
