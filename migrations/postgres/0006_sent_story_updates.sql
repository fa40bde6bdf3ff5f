-- A story update is sent only if it shows more sources than the updates of its story sent
-- already (polls commit in any order, so an older grouping can reach the outbox after a newer
-- one went out): that check looks the sent updates of a story up.
CREATE INDEX deliveries_sent_story ON deliveries (story_key)
  WHERE state = 'sent' AND story_key IS NOT NULL;
