-- Why a delivery was skipped, failed or waits: the reason as a code plus its parameters
-- (JSON `{"code": "muted", "params": {...}}`, domain::delivery_reason), written with the
-- `error` text; the log reads it instead of parsing the text back. NULL on rows written
-- before it (their text is read as before) and on sent ones.
ALTER TABLE deliveries ADD COLUMN reason TEXT;
