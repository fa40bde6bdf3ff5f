-- The item archive: one row per poll that found new items, holding those items' text
-- (zstd-compressed, see src/store/archive.rs) for `newswatch backtest`. Written in the same
-- transaction as the seen keys; rows first seen before `[daemon] archive` are pruned.
CREATE TABLE archive (
    id         INTEGER PRIMARY KEY AUTOINCREMENT, -- commit order: backtests replay in it
    feed       TEXT NOT NULL,
    first_seen INTEGER NOT NULL,                  -- the poll's time, shared by its items
    items      INTEGER NOT NULL,
    raw_len    INTEGER NOT NULL,                  -- encoded length before compression
    blob       BLOB NOT NULL
);
CREATE INDEX archive_by_time ON archive (first_seen);
