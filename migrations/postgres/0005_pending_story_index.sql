-- A story update is claimed only when no older update of the same story is claimed or being
-- sent elsewhere: that check looks pending rows up by story.
CREATE INDEX deliveries_pending_story ON deliveries (story_key, id)
  WHERE state = 'pending' AND story_key IS NOT NULL;
