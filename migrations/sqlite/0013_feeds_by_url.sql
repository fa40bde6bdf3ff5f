-- A feed's first poll under a new name looks up the feed it was renamed from by its URL
-- (once per feed that has never polled successfully: a first round of thousands of new
-- feeds must not read the whole table each).
CREATE INDEX feeds_by_config_url ON feeds (config_url);
