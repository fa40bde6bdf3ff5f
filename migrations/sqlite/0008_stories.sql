-- Stories: an item that reports a story already alerted for the same watch updates that alert
-- instead of alerting again.

-- 'alert' (a match) or 'update' (a story's later source, shown by editing or following up the
-- story's alert to the same sink).
ALTER TABLE deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'alert';
-- An update: the idempotency key of the story's alert to the same sink. It is not claimed
-- while that alert is pending, so an edit never overtakes the message it edits.
ALTER TABLE deliveries ADD COLUMN story_key TEXT;
-- An alert sent alone: the platform's id of its message (what an update edits).
ALTER TABLE deliveries ADD COLUMN message_ref TEXT;

-- The daily alert count counts alerts, not updates (an update row names the item that reported
-- the story again, a new (feed, item) the trigger would otherwise count).
DROP TRIGGER history_alert;
CREATE TRIGGER history_alert AFTER INSERT ON deliveries
    WHEN NEW.kind = 'alert' AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.feed = NEW.feed
        AND d.item_key = NEW.item_key AND d.watch = NEW.watch AND d.id <> NEW.id) BEGIN
    INSERT OR IGNORE INTO watch_days (watch, day) VALUES (NEW.watch, NEW.created_at / 86400000);
    UPDATE watch_days SET alerts = alerts + 1
    WHERE watch = NEW.watch AND day = NEW.created_at / 86400000;
END;

-- Every item grouped into a story, for rebuilding the stories' index at start: the window's
-- stories and the vocabulary that weighs their words. Kept 30 days.
CREATE TABLE story_items (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    watch     TEXT NOT NULL,
    story     INTEGER NOT NULL,   -- the story's number within its watch
    feed      TEXT NOT NULL,
    item_key  TEXT NOT NULL,
    title     TEXT NOT NULL,
    lead      TEXT NOT NULL,
    link      TEXT,
    published INTEGER NOT NULL,   -- Unix seconds, as the grouping compares them
    at        INTEGER NOT NULL,   -- when it was stored (ms)
    alert     TEXT                -- the story's first item only: its alert (JSON), what updates show
);
CREATE INDEX story_items_by_at ON story_items (at);
