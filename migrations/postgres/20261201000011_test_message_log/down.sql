DROP TABLE test_messages;
