DROP TABLE workspace_pacing;
DROP TABLE card_edits;
