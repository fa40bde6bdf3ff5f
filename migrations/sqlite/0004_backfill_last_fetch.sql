-- 0003 added last_fetch_at without filling it: on a database made before it, the column stayed
-- NULL until the feed next answered 200, and a NULL disabled the prune guard, so a feed that
-- kept answering 304 (or failing) had the items it still lists forgotten after `retention`
-- and re-alerted. Every item of a full fetch is written with that fetch's time as last_seen,
-- so a feed's newest last_seen is the time of its latest full fetch: exactly the items to spare.
-- (last_success_at would not do: a 304 moves it without touching any item.)
UPDATE feeds
SET last_fetch_at = (SELECT MAX(s.last_seen) FROM seen s WHERE s.feed = feeds.feed)
WHERE last_fetch_at IS NULL;
