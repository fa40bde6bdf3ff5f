-- Digests formed once: the key a delivery was first attempted under (its own idempotency key
-- when sent alone, the digest's key when sent in one). A retry sends the same group under the
-- same key; a row attempted alone is never folded into a digest.
ALTER TABLE deliveries ADD COLUMN group_key TEXT;
CREATE INDEX deliveries_by_group ON deliveries (group_key) WHERE group_key IS NOT NULL;

-- Summary queries without scanning the outbox: the oldest pending delivery by index, and the
-- row count per state kept by triggers (a /metrics scrape must not count a million sent rows).
CREATE INDEX deliveries_by_state_age ON deliveries (state, created_at);
CREATE INDEX deliveries_by_state_id ON deliveries (state, id);
CREATE INDEX deliveries_by_state_sent ON deliveries (state, sent_at);
CREATE TABLE outbox_counts (
    state TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO outbox_counts (state, n) VALUES ('pending', 0), ('sent', 0), ('dead', 0);
UPDATE outbox_counts SET n = (SELECT COUNT(*) FROM deliveries d WHERE d.state = outbox_counts.state);
CREATE TRIGGER outbox_count_insert AFTER INSERT ON deliveries BEGIN
    UPDATE outbox_counts SET n = n + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER outbox_count_delete AFTER DELETE ON deliveries BEGIN
    UPDATE outbox_counts SET n = n - 1 WHERE state = OLD.state;
END;
CREATE TRIGGER outbox_count_update AFTER UPDATE OF state ON deliveries
    WHEN OLD.state IS NOT NEW.state BEGIN
    UPDATE outbox_counts SET n = n - 1 WHERE state = OLD.state;
    UPDATE outbox_counts SET n = n + 1 WHERE state = NEW.state;
END;

-- Alerts per watch, counted when enqueued (one per watch and item, whatever the sinks), so
-- `status` does not group the whole outbox.
CREATE TABLE watch_alerts (
    watch TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO watch_alerts (watch, n)
    SELECT watch, COUNT(DISTINCT feed || char(0) || item_key) FROM deliveries GROUP BY watch;

-- When a feed's configured URL last served an HTML page instead of a feed, in a row: a feed
-- link found on such a page is followed only on the first poll or after 3 in a row, so one
-- soft-404 or homepage answer does not re-point a feed for good.
ALTER TABLE feeds ADD COLUMN html_streak INTEGER NOT NULL DEFAULT 0;
-- When a feed left the configuration (NULL while configured): its rows are pruned after the
-- retention.
ALTER TABLE feeds ADD COLUMN removed_at INTEGER;
