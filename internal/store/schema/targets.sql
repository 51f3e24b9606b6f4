-- The original table, shared by the registry and the working databases.
-- Its columns and their meaning are a contract with other programs
-- (../shared/SEMANTICS.md): never change them, only add.
CREATE TABLE IF NOT EXISTS targets (
  address       TEXT NOT NULL PRIMARY KEY,
  name          TEXT NOT NULL,
  run           BOOLEAN DEFAULT TRUE,
  running       BOOLEAN DEFAULT FALSE,
  me            BOOLEAN DEFAULT FALSE,
  stable        BOOLEAN DEFAULT TRUE,
  responded     BOOLEAN DEFAULT FALSE,
  sample_time   INTEGER DEFAULT 0,
  total_count   INTEGER DEFAULT 0,
  total_success INTEGER DEFAULT 0
);
