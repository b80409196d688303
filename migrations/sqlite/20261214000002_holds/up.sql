-- Holds (API.md "During load tests", hold): an incident that opened while a load test of
-- its project ran is not posted until the test ends. Its outbox rows stay `pending` with
-- `hold_id` set, which the sender's claim skips; settling the hold (once, by a
-- conditional update of `settled_at`) either clears `hold_id` (posted as usual) or skips
-- them (recovered meanwhile, one line instead).
CREATE TABLE holds (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id       TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    scenario_id  TEXT NOT NULL,
    incident     BIGINT NOT NULL,
    -- What the incident waits for: the load test it opened during.
    load_test_id TEXT NOT NULL,
    -- When it was held (the safety net counts from here), when the incident started (its
    -- first failing result) and, once seen, when it recovered.
    held_since   TIMESTAMP NOT NULL,
    failing_since TIMESTAMP NOT NULL,
    recovered_at TIMESTAMP,
    settled_at   TIMESTAMP,
    outcome      TEXT CHECK (outcome IN ('released', 'recovered')),
    UNIQUE (scenario_id, incident)
);
-- The holds still waiting (the sender's periodic settle reads only these).
CREATE INDEX holds_open ON holds (id) WHERE settled_at IS NULL;

ALTER TABLE deliveries ADD COLUMN hold_id INTEGER;
-- The claim's heads: pending and not held (the claim's predicate, word for word).
CREATE INDEX deliveries_sendable_head ON deliveries (team_id, channel, id)
    WHERE status = 'pending' AND hold_id IS NULL;
CREATE INDEX deliveries_held ON deliveries (hold_id) WHERE hold_id IS NOT NULL;
