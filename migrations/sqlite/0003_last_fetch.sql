-- When the feed's document was last fetched in full (a 200, not a 304). Items of that document
-- carry exactly this last_seen, so pruning can spare them however long the feed answers 304
-- or keeps failing: a quiet feed must not re-alert its old items after `retention`.
ALTER TABLE feeds ADD COLUMN last_fetch_at INTEGER;
