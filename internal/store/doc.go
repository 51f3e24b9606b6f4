// Package store keeps pmonitor's state in SQLite: the registry (the master
// database shared by every agent) and each agent's working database.
//
// Both carry the table targets whose original columns other programs read
// and write with plain SQL while agents run (see ../shared/SEMANTICS.md);
// their meaning never changes. Extra columns and tables are added by
// migrations embedded in the binary, in place, so a database created by
// another program (or a zero-byte file) is accepted as it is.
//
// Every connection runs in WAL mode with a busy timeout, and write
// transactions begin IMMEDIATE, so agents, orchestrators and sqlite3 readers
// do not see "database is locked".
package store
