-- newswatch state on PostgreSQL: the same tables, counters and history triggers as the SQLite
-- schema after its 0008 migration (migrations/sqlite), in one step: a PostgreSQL database
-- starts at this point. Times are milliseconds since the Unix epoch (UTC); counts are BIGINT so
-- every integer reads back as Rust's i64 on both backends.

CREATE TABLE feeds (
    feed            TEXT PRIMARY KEY,           -- the configured feed name
    config_url      TEXT NOT NULL,              -- the URL in the config when last polled
    moved_url       TEXT,                       -- set by a permanent redirect
    etag            TEXT,
    last_modified   TEXT,
    last_poll_at    BIGINT,
    last_success_at BIGINT,
    last_fetch_at   BIGINT,                     -- the latest full (200) fetch: prune spares its items
    last_result     TEXT,                       -- 'ok', 'not_modified', 'error'
    last_error      TEXT,
    failures        BIGINT NOT NULL DEFAULT 0,  -- consecutive
    next_poll_at    BIGINT,
    baselined       BOOLEAN NOT NULL DEFAULT FALSE,
    items_seen      BIGINT NOT NULL DEFAULT 0,
    suppressed      BIGINT NOT NULL DEFAULT 0,  -- alerts dropped as cross-feed repeats
    html_streak     BIGINT NOT NULL DEFAULT 0,  -- consecutive HTML answers
    removed_at      BIGINT                      -- when the feed left the configuration
);

CREATE TABLE seen (
    feed       TEXT NOT NULL,
    item_key   TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (feed, item_key)
);
CREATE INDEX seen_by_last_seen ON seen (last_seen);
CREATE INDEX seen_by_first_seen ON seen (feed, first_seen);

-- One row per (watch, canonical link) alerted recently.
CREATE TABLE link_seen (
    watch TEXT NOT NULL,
    link  TEXT NOT NULL,
    at    BIGINT NOT NULL,
    PRIMARY KEY (watch, link)
);
CREATE INDEX link_seen_by_at ON link_seen (at);

CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,       -- outbox order
    idem_key        TEXT NOT NULL UNIQUE,        -- sent on every attempt
    sink            TEXT NOT NULL,
    watch           TEXT NOT NULL,
    feed            TEXT NOT NULL,
    item_key        TEXT NOT NULL,
    alert           TEXT NOT NULL,               -- JSON; rendered at send time
    state           TEXT NOT NULL DEFAULT 'pending', -- pending | sent | dead
    attempts        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,                      -- claimed by a worker until then
    last_error      TEXT,
    sent_at         BIGINT,
    group_key       TEXT,                        -- the key of the first attempt (digest or own)
    kind            TEXT NOT NULL DEFAULT 'alert', -- 'alert' | 'update' (of a story)
    story_key       TEXT,                        -- an update: the story's alert's idem_key
    message_ref     TEXT                         -- an alert sent alone: the platform's message id
);
CREATE INDEX deliveries_due ON deliveries (state, sink, next_attempt_at);
CREATE INDEX deliveries_by_group ON deliveries (group_key) WHERE group_key IS NOT NULL;
CREATE INDEX deliveries_by_state_age ON deliveries (state, created_at);
CREATE INDEX deliveries_by_state_id ON deliveries (state, id);
CREATE INDEX deliveries_by_state_sent ON deliveries (state, sent_at);
CREATE INDEX deliveries_by_item ON deliveries (feed, item_key, watch);

CREATE TABLE sink_state (
    sink  TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (sink, key)
);

-- Rows per outbox state, kept by a trigger: a /metrics scrape must not count a million rows.
CREATE TABLE outbox_counts (
    state TEXT PRIMARY KEY,
    n     BIGINT NOT NULL
);
INSERT INTO outbox_counts (state, n) VALUES ('pending', 0), ('sent', 0), ('dead', 0);

-- Alerts per watch, counted when enqueued (one per watch and item, whatever the sinks).
CREATE TABLE watch_alerts (
    watch TEXT PRIMARY KEY,
    n     BIGINT NOT NULL
);

-- The item archive for `newswatch backtest` (see src/store/archive.rs).
CREATE TABLE archive (
    id         BIGSERIAL PRIMARY KEY,            -- commit order: backtests replay in it
    feed       TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    items      BIGINT NOT NULL,
    raw_len    BIGINT NOT NULL,
    blob       BYTEA NOT NULL
);
CREATE INDEX archive_by_time ON archive (first_seen);

-- Daily history (UTC day number = milliseconds / 86400000) and the facts of feed health.
CREATE TABLE feed_days (
    feed         TEXT NOT NULL,
    day          BIGINT NOT NULL,
    ok           BIGINT NOT NULL DEFAULT 0,
    not_modified BIGINT NOT NULL DEFAULT 0,
    failed       BIGINT NOT NULL DEFAULT 0,
    items        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (feed, day)
);

CREATE TABLE watch_days (
    watch  TEXT NOT NULL,
    day    BIGINT NOT NULL,
    alerts BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (watch, day)
);

CREATE TABLE feed_health (
    feed          TEXT PRIMARY KEY,
    failing_since BIGINT,                        -- first failed poll of the current run
    baselined_at  BIGINT,
    reported      TEXT NOT NULL DEFAULT 'ok',    -- ok | failing | silent
    reported_at   BIGINT
);

-- Items grouped into stories, for rebuilding the stories' index at start.
CREATE TABLE story_items (
    id        BIGSERIAL PRIMARY KEY,
    watch     TEXT NOT NULL,
    story     BIGINT NOT NULL,
    feed      TEXT NOT NULL,
    item_key  TEXT NOT NULL,
    title     TEXT NOT NULL,
    lead      TEXT NOT NULL,
    link      TEXT,
    published BIGINT NOT NULL,                   -- Unix seconds
    at        BIGINT NOT NULL,                   -- when it was stored (ms)
    alert     TEXT
);
CREATE INDEX story_items_by_at ON story_items (at);

-- Triggers: the same rules as SQLite's, so both backends count the same way.

CREATE FUNCTION outbox_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE outbox_counts SET n = n + 1 WHERE state = NEW.state;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE outbox_counts SET n = n - 1 WHERE state = OLD.state;
    ELSIF OLD.state IS DISTINCT FROM NEW.state THEN
        UPDATE outbox_counts SET n = n - 1 WHERE state = OLD.state;
        UPDATE outbox_counts SET n = n + 1 WHERE state = NEW.state;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_count AFTER INSERT OR DELETE OR UPDATE OF state ON deliveries
    FOR EACH ROW EXECUTE FUNCTION outbox_count();

-- Every poll writes last_poll_at exactly once (commit, 304, failure), with its result.
CREATE FUNCTION history_poll() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_poll_at IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO feed_days AS d (feed, day, ok, not_modified, failed)
    VALUES (NEW.feed, NEW.last_poll_at / 86400000,
            (CASE WHEN NEW.last_result = 'ok' THEN 1 ELSE 0 END), (CASE WHEN NEW.last_result = 'not_modified' THEN 1 ELSE 0 END),
            (CASE WHEN NEW.last_result = 'error' THEN 1 ELSE 0 END))
    ON CONFLICT (feed, day) DO UPDATE SET
        ok = d.ok + EXCLUDED.ok,
        not_modified = d.not_modified + EXCLUDED.not_modified,
        failed = d.failed + EXCLUDED.failed;
    INSERT INTO feed_health AS h (feed, failing_since)
    VALUES (NEW.feed, CASE WHEN NEW.last_result = 'error' THEN NEW.last_poll_at END)
    ON CONFLICT (feed) DO UPDATE SET failing_since =
        CASE WHEN NEW.last_result = 'error' THEN COALESCE(h.failing_since, NEW.last_poll_at) END;
    RETURN NULL;
END $$;
CREATE TRIGGER history_poll AFTER UPDATE OF last_poll_at ON feeds
    FOR EACH ROW EXECUTE FUNCTION history_poll();

-- The poll that baselines a feed sets baselined and last_poll_at in one statement.
CREATE FUNCTION history_baseline() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT OLD.baselined AND NEW.baselined THEN
        INSERT INTO feed_health AS h (feed, baselined_at) VALUES (NEW.feed, NEW.last_poll_at)
        ON CONFLICT (feed) DO UPDATE SET baselined_at = NEW.last_poll_at;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER history_baseline AFTER UPDATE OF baselined ON feeds
    FOR EACH ROW EXECUTE FUNCTION history_baseline();

-- A new item of a baselined feed (a first poll's items are inserted before the feed row is
-- marked baselined, in the same transaction).
CREATE FUNCTION history_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM feeds WHERE feed = NEW.feed AND baselined) THEN
        INSERT INTO feed_days AS d (feed, day, items) VALUES (NEW.feed, NEW.first_seen / 86400000, 1)
        ON CONFLICT (feed, day) DO UPDATE SET items = d.items + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER history_item AFTER INSERT ON seen
    FOR EACH ROW EXECUTE FUNCTION history_item();

-- An alert is one per watch and item: only the first sink's row counts; updates do not.
CREATE FUNCTION history_alert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind = 'alert' AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.feed = NEW.feed
            AND d.item_key = NEW.item_key AND d.watch = NEW.watch AND d.id <> NEW.id) THEN
        INSERT INTO watch_days AS w (watch, day, alerts) VALUES (NEW.watch, NEW.created_at / 86400000, 1)
        ON CONFLICT (watch, day) DO UPDATE SET alerts = w.alerts + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER history_alert AFTER INSERT ON deliveries
    FOR EACH ROW EXECUTE FUNCTION history_alert();

CREATE FUNCTION history_feed_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM feed_health WHERE feed = OLD.feed;
    DELETE FROM feed_days WHERE feed = OLD.feed;
    RETURN NULL;
END $$;
CREATE TRIGGER history_feed_gone AFTER DELETE ON feeds
    FOR EACH ROW EXECUTE FUNCTION history_feed_gone();
