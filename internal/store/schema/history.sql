-- Working database history: one row per probe, bounded by --retention.
CREATE TABLE IF NOT EXISTS samples (
  time     REAL NOT NULL,     -- epoch seconds when the probe was sent
  address  TEXT NOT NULL,
  answered BOOLEAN NOT NULL,
  rtt_ms   REAL               -- NULL when not answered
);
-- Only a time index: it serves retention and time-range reads, and each
-- extra index would cost every one of 10,000 inserts a second.
CREATE INDEX IF NOT EXISTS samples_time ON samples(time);

-- Up/down transitions. An 'up' event after a 'down' carries the outage length.
CREATE TABLE IF NOT EXISTS events (
  time           REAL NOT NULL,  -- epoch seconds of the transition
  address        TEXT NOT NULL,
  name           TEXT NOT NULL,
  state          TEXT NOT NULL CHECK (state IN ('up', 'down')),
  reason         TEXT,           -- why a probe failed: timeout, unreachable, ...
  outage_seconds REAL            -- on 'up': how long the target was down
);
CREATE INDEX IF NOT EXISTS events_time ON events(time);
