-- A counter bumped by every change that matters to agents (targets added,
-- removed, renamed, their stable or run flag changed) but not by heartbeats,
-- so that hundreds of agents heartbeating into one registry do not make
-- each other reload the target list. Plain SQL writers fire the triggers too.
CREATE TABLE IF NOT EXISTS pmonitor_generation (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  generation INTEGER NOT NULL
);
INSERT OR IGNORE INTO pmonitor_generation(id, generation) VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS pmonitor_gen_insert AFTER INSERT ON targets
BEGIN UPDATE pmonitor_generation SET generation = generation + 1; END;
CREATE TRIGGER IF NOT EXISTS pmonitor_gen_delete AFTER DELETE ON targets
BEGIN UPDATE pmonitor_generation SET generation = generation + 1; END;
CREATE TRIGGER IF NOT EXISTS pmonitor_gen_update AFTER UPDATE OF address, name, stable, run ON targets
BEGIN UPDATE pmonitor_generation SET generation = generation + 1; END;
