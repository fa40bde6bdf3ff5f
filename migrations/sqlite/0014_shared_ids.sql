-- The ids a feed's documents gave several different items (a JSON list): an item alone
-- under such an id is keyed by the id and its link, as it was beside the others.
ALTER TABLE feeds ADD COLUMN shared_ids TEXT NOT NULL DEFAULT '';
