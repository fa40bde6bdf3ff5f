-- Story updates are now folded into digests of notes when they were never attempted, which
-- the key stored before each send tells. Releases before stored no key on story updates, so
-- a note one of them may have sent (a send cut off by a crash, or revived by their
-- `deliveries retry --dead`) would look never attempted. Each pending update they queued is
-- marked attempted alone (its own key): it goes as its story's own edit or note, as it would
-- have.
UPDATE deliveries SET group_key = idem_key
WHERE story_key IS NOT NULL AND state = 'pending' AND group_key IS NULL;
