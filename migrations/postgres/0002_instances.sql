-- Several instances on one database: who runs, and what each holds.

-- One row per running instance, refreshed by its heartbeat; removed on a clean stop.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,   -- host, pid and a random part: never reused
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    version      TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

-- A feed is polled by the instance holding its lease; the lease names the host key the feed
-- counts under, so per-host limits hold across instances.
ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
ALTER TABLE feeds ADD COLUMN lease_until BIGINT;
ALTER TABLE feeds ADD COLUMN lease_host  TEXT;
CREATE INDEX feeds_by_lease_host ON feeds (lease_host) WHERE lease_owner IS NOT NULL;
CREATE INDEX feeds_by_lease_owner ON feeds (lease_owner) WHERE lease_owner IS NOT NULL;

-- One instance at a time sends a sink's queue (its order and rate limits are per sink).
CREATE TABLE sink_leases (
    sink  TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until BIGINT NOT NULL
);
