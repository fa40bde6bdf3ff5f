-- Small per-sink facts learnt at run time that must survive restarts
-- (e.g. a Telegram group's new chat id after it became a supergroup).
CREATE TABLE sink_state (
    sink  TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (sink, key)
) WITHOUT ROWID;
