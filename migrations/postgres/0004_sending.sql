-- When a delivery's send in flight is surely over (set just before each send, cleared when
-- its result is recorded). An instance taking a sink over leaves such rows claimed until
-- then, so a send that was in flight when the previous holder's lease ran out is not sent
-- a second time. NULL: not being sent.
ALTER TABLE deliveries ADD COLUMN sending_until BIGINT;
