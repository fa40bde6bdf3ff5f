-- A story update done without a message to the platform (nothing to edit, notes off, the
-- message already showing as many sources) is marked sent like one that was sent; `quiet`
-- tells them apart, so a starting worker's rate budget counts the edits and notes that did
-- reach the platform and not the rest. Rows from before this column count as sent: at most
-- one rate period after the upgrade, a sink waits longer than it needed to.
ALTER TABLE deliveries ADD COLUMN quiet INTEGER NOT NULL DEFAULT 0;
