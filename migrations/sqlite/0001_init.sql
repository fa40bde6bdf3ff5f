-- newswatch state: feeds, seen items, cross-feed link memory, and the delivery outbox.
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE feeds (
    feed            TEXT PRIMARY KEY,          -- the configured feed name
    config_url      TEXT NOT NULL,             -- the URL in the config when last polled
    moved_url       TEXT,                      -- set by a permanent redirect; used while config_url is unchanged
    etag            TEXT,
    last_modified   TEXT,
    last_poll_at    INTEGER,
    last_success_at INTEGER,
    last_result     TEXT,                      -- 'ok', 'not_modified', 'error'
    last_error      TEXT,
    failures        INTEGER NOT NULL DEFAULT 0, -- consecutive
    next_poll_at    INTEGER,
    baselined       INTEGER NOT NULL DEFAULT 0, -- first successful poll done
    items_seen      INTEGER NOT NULL DEFAULT 0,
    suppressed      INTEGER NOT NULL DEFAULT 0  -- alerts dropped as cross-feed repeats
);

CREATE TABLE seen (
    feed       TEXT NOT NULL,
    item_key   TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (feed, item_key)
) WITHOUT ROWID;
CREATE INDEX seen_by_last_seen ON seen (last_seen);

-- One row per (watch, canonical link) alerted recently: the same story from two feeds
-- alerts once per watch.
CREATE TABLE link_seen (
    watch TEXT NOT NULL,
    link  TEXT NOT NULL,
    at    INTEGER NOT NULL,
    PRIMARY KEY (watch, link)
) WITHOUT ROWID;
CREATE INDEX link_seen_by_at ON link_seen (at);

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idem_key        TEXT NOT NULL UNIQUE,       -- hash(watch, sink, feed, item): sent on every attempt
    sink            TEXT NOT NULL,
    watch           TEXT NOT NULL,
    feed            TEXT NOT NULL,
    item_key        TEXT NOT NULL,
    alert           TEXT NOT NULL,              -- JSON; rendered at send time
    state           TEXT NOT NULL DEFAULT 'pending', -- pending | sent | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,                    -- claimed by a worker until then
    last_error      TEXT,
    sent_at         INTEGER
);
CREATE INDEX deliveries_due ON deliveries (state, sink, next_attempt_at);
