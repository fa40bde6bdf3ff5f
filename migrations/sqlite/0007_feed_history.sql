-- Daily history for the status page (14 days shown, about 30 kept) and the facts feed health
-- is judged on. Kept by triggers, so every writer of a poll, an item or an alert counts the
-- same way without a line of Rust: a day is the UTC day number of the row's own time
-- (milliseconds / 86400000), the time the writer chose for that poll.

-- Per feed and day: polls by result, and new items (a baseline's items are not new).
CREATE TABLE feed_days (
    feed         TEXT NOT NULL,
    day          INTEGER NOT NULL,
    ok           INTEGER NOT NULL DEFAULT 0,
    not_modified INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    items        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (feed, day)
) WITHOUT ROWID;

-- Per watch and day: alerts, one per watch and item whatever the sinks (as `watch_alerts`).
CREATE TABLE watch_days (
    watch  TEXT NOT NULL,
    day    INTEGER NOT NULL,
    alerts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (watch, day)
) WITHOUT ROWID;

-- Per feed, for health alerts: since when it fails, its latest baseline (items first seen
-- then or before are not arrivals: a new feed has no rhythm yet), and the state last alerted.
CREATE TABLE feed_health (
    feed          TEXT PRIMARY KEY,
    failing_since INTEGER,                   -- first failed poll of the current run; NULL after a success
    baselined_at  INTEGER,
    reported      TEXT NOT NULL DEFAULT 'ok', -- ok | failing | silent
    reported_at   INTEGER                    -- when `reported` last changed
) WITHOUT ROWID;

-- Every poll writes last_poll_at exactly once (commit, 304, failure), with its result.
CREATE TRIGGER history_poll AFTER UPDATE OF last_poll_at ON feeds
    WHEN NEW.last_poll_at IS NOT NULL BEGIN
    INSERT OR IGNORE INTO feed_days (feed, day) VALUES (NEW.feed, NEW.last_poll_at / 86400000);
    UPDATE feed_days SET
        ok = ok + (NEW.last_result = 'ok'),
        not_modified = not_modified + (NEW.last_result = 'not_modified'),
        failed = failed + (NEW.last_result = 'error')
    WHERE feed = NEW.feed AND day = NEW.last_poll_at / 86400000;
    INSERT OR IGNORE INTO feed_health (feed) VALUES (NEW.feed);
    UPDATE feed_health SET failing_since =
        CASE WHEN NEW.last_result = 'error' THEN COALESCE(failing_since, NEW.last_poll_at) END
    WHERE feed = NEW.feed;
END;

-- The poll that baselines a feed sets baselined and last_poll_at in one statement.
CREATE TRIGGER history_baseline AFTER UPDATE OF baselined ON feeds
    WHEN OLD.baselined = 0 AND NEW.baselined = 1 BEGIN
    INSERT OR IGNORE INTO feed_health (feed) VALUES (NEW.feed);
    UPDATE feed_health SET baselined_at = NEW.last_poll_at WHERE feed = NEW.feed;
END;

-- A new item of a baselined feed (the first poll's items are inserted before the feed row
-- is marked baselined, in the same transaction).
CREATE TRIGGER history_item AFTER INSERT ON seen
    WHEN (SELECT baselined FROM feeds WHERE feed = NEW.feed) = 1 BEGIN
    INSERT OR IGNORE INTO feed_days (feed, day) VALUES (NEW.feed, NEW.first_seen / 86400000);
    UPDATE feed_days SET items = items + 1
    WHERE feed = NEW.feed AND day = NEW.first_seen / 86400000;
END;

-- An alert is one per watch and item: only the first sink's row counts.
CREATE INDEX deliveries_by_item ON deliveries (feed, item_key, watch);
CREATE TRIGGER history_alert AFTER INSERT ON deliveries
    WHEN NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.feed = NEW.feed
        AND d.item_key = NEW.item_key AND d.watch = NEW.watch AND d.id <> NEW.id) BEGIN
    INSERT OR IGNORE INTO watch_days (watch, day) VALUES (NEW.watch, NEW.created_at / 86400000);
    UPDATE watch_days SET alerts = alerts + 1
    WHERE watch = NEW.watch AND day = NEW.created_at / 86400000;
END;

CREATE TRIGGER history_feed_gone AFTER DELETE ON feeds BEGIN
    DELETE FROM feed_health WHERE feed = OLD.feed;
    DELETE FROM feed_days WHERE feed = OLD.feed;
END;

-- Feeds already known: a failing feed fails since its last success at the latest (or its
-- last poll when it never succeeded); its baseline was its first item.
INSERT INTO feed_health (feed, failing_since, baselined_at)
    SELECT f.feed,
           CASE WHEN f.last_result = 'error' THEN COALESCE(f.last_success_at, f.last_poll_at) END,
           (SELECT MIN(s.first_seen) FROM seen s WHERE s.feed = f.feed)
    FROM feeds f;
