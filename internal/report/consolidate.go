package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pmonitor/pmonitor/internal/store"
)

// Source is one working database merged by Consolidate.
type Source struct {
	Path    string `json:"path"`
	Node    string `json:"node,omitempty"`    // the agent's name (me row), or the file name
	Address string `json:"address,omitempty"` // the agent's address (me row)
	Rows    int64  `json:"rows"`              // node_history rows taken
	Samples int64  `json:"samples"`
	Events  int64  `json:"events"`
	Error   string `json:"error,omitempty"` // why it was skipped
}

// Summary says what Consolidate wrote.
type Summary struct {
	Out     string   `json:"out"`
	Targets int64    `json:"targets"`
	Sources []Source `json:"sources"`
	Skipped int      `json:"skipped"`
}

// analysisSchema is the consolidated database. node_history follows the
// original tool; samples and events carry the richer per-sample data, each
// row tagged with its source node.
const analysisSchema = `
CREATE TABLE node_history (
  node_name TEXT, sample_time REAL, responded BOOLEAN, total_count INTEGER, total_success INTEGER,
  source_node TEXT,
  address TEXT, source_address TEXT, stable BOOLEAN, sent INTEGER, received INTEGER,
  rtt_last_ms REAL, rtt_min_ms REAL, rtt_avg_ms REAL, rtt_max_ms REAL, consecutive_failures INTEGER
);
CREATE INDEX node_history_time ON node_history(sample_time);
CREATE INDEX node_history_node ON node_history(node_name);
CREATE INDEX node_history_source ON node_history(source_node);
CREATE TABLE samples (time REAL, address TEXT, answered BOOLEAN, rtt_ms REAL, source_node TEXT, source_address TEXT);
CREATE INDEX samples_time ON samples(time);
CREATE INDEX samples_source ON samples(source_node);
CREATE TABLE events (time REAL, address TEXT, name TEXT, state TEXT, reason TEXT, outage_seconds REAL,
  source_node TEXT, source_address TEXT);
CREATE INDEX events_time ON events(time);
CREATE TABLE sources (path TEXT, source_node TEXT, source_address TEXT, rows INTEGER, samples INTEGER,
  events INTEGER, error TEXT);
`

// Consolidate writes the analysis database out from the registry at master
// and the working databases. out must not exist. A working database that is
// missing or unreadable is reported in the summary and skipped; the rest is
// merged. The database is built under a temporary name and renamed into
// place, so out is either complete or absent.
func Consolidate(ctx context.Context, master, out string, working []string) (Summary, error) {
	sum := Summary{Out: out}
	if _, err := os.Stat(out); err == nil {
		return sum, fmt.Errorf("consolidate: %s already exists", out)
	}
	reg, err := store.OpenReadOnly(ctx, master)
	if err != nil {
		return sum, fmt.Errorf("consolidate: registry: %w", err)
	}
	reg.Close()

	tmp := out + ".partial"
	os.Remove(tmp)
	// The busy timeout of this handle also applies to the inputs attached to
	// it: a locked input is waited for before it is skipped.
	db, err := store.OpenFile(ctx, tmp)
	if err != nil {
		return sum, fmt.Errorf("consolidate: create %s: %w", tmp, err)
	}
	defer func() {
		db.Close()
		os.Remove(tmp)
	}()
	conn, err := db.Conn(ctx) // ATTACH is per connection
	if err != nil {
		return sum, fmt.Errorf("consolidate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, analysisSchema); err != nil {
		return sum, fmt.Errorf("consolidate: create schema: %w", err)
	}
	if sum.Targets, err = copyRegistry(ctx, conn, master); err != nil {
		return sum, fmt.Errorf("consolidate: registry %s: %w", master, err)
	}
	seen := []seenFile{}
	if fi, err := os.Stat(master); err == nil {
		seen = append(seen, seenFile{master, fi})
	}
	for _, w := range working {
		var src Source
		if first := sameAs(seen, w); first != "" {
			src = Source{Path: w, Error: "same file as " + first}
		} else {
			if fi, err := os.Stat(w); err == nil {
				seen = append(seen, seenFile{w, fi})
			}
			src = mergeWorking(ctx, conn, w)
		}
		if src.Error != "" {
			sum.Skipped++
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?)`,
			src.Path, src.Node, src.Address, src.Rows, src.Samples, src.Events, nullIfEmpty(src.Error)); err != nil {
			return sum, fmt.Errorf("consolidate: %w", err)
		}
		sum.Sources = append(sum.Sources, src)
	}
	conn.Close()
	if err := db.Close(); err != nil {
		return sum, fmt.Errorf("consolidate: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return sum, fmt.Errorf("consolidate: %w", err)
	}
	return sum, nil
}

// seenFile is an input already taken, by identity (device and inode), so
// that another spelling of its name or a symlink to it is not merged twice.
type seenFile struct {
	path string
	fi   os.FileInfo
}

// sameAs returns the name under which path was already taken, or "".
func sameAs(seen []seenFile, path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	for _, s := range seen {
		if os.SameFile(fi, s.fi) {
			return s.path
		}
	}
	return ""
}

// attach attaches path read-only as schema "src".
func attach(ctx context.Context, conn *sql.Conn, path string) (func(), error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	uri := store.FileURI(abs, url.Values{"mode": {"ro"}})
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS src`, uri); err != nil {
		return nil, err
	}
	return func() { conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE src`) }, nil
}

func copyRegistry(ctx context.Context, conn *sql.Conn, master string) (int64, error) {
	detach, err := attach(ctx, conn, master)
	if err != nil {
		return 0, err
	}
	defer detach()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE targets AS SELECT * FROM src.targets ORDER BY rowid`); err != nil {
		return 0, err
	}
	var n int64
	err = conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM targets`).Scan(&n)
	return n, err
}

// mergeWorking copies one working database; failures are recorded in the
// returned Source rather than returned.
func mergeWorking(ctx context.Context, conn *sql.Conn, path string) Source {
	src := Source{Path: path, Node: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))}
	detach, err := attach(ctx, conn, path)
	if err != nil {
		src.Error = errText(err)
		return src
	}
	defer detach()
	if err := mergeAttached(ctx, conn, &src); err != nil {
		src.Error = errText(err)
		src.Rows, src.Samples, src.Events = 0, 0, 0
	}
	return src
}

func mergeAttached(ctx context.Context, conn *sql.Conn, src *Source) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	have, err := store.SchemaColumns(ctx, tx, "src", "targets")
	if err != nil {
		return err
	}
	if len(have) == 0 {
		return errors.New("no targets table")
	}
	var name, addr sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT name, address FROM src.targets WHERE me = TRUE LIMIT 1`).Scan(&name, &addr)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if name.Valid && name.String != "" {
		src.Node = name.String
	}
	src.Address = addr.String
	col := func(c, fallback string) string {
		if have[c] {
			return c
		}
		return fallback
	}
	avg := "NULL"
	if have["rtt_sum_ms"] && have["received"] {
		avg = "CASE WHEN received > 0 THEN rtt_sum_ms / received END"
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO node_history SELECT name, sample_time, responded, total_count, total_success, ?,
		address, ?, stable, `+col("sent", "NULL")+`, `+col("received", "NULL")+`, `+col("rtt_last_ms", "NULL")+`,
		`+col("rtt_min_ms", "NULL")+`, `+avg+`, `+col("rtt_max_ms", "NULL")+`, `+col("consecutive_failures", "NULL")+`
		FROM src.targets WHERE COALESCE(me, FALSE) = FALSE ORDER BY rowid`, src.Node, src.Address)
	if err != nil {
		return err
	}
	src.Rows, _ = res.RowsAffected()
	for _, t := range []struct {
		name, cols string
		n          *int64
	}{
		{"samples", "time, address, answered, rtt_ms", &src.Samples},
		{"events", "time, address, name, state, reason, outage_seconds", &src.Events},
	} {
		if c, err := store.SchemaColumns(ctx, tx, "src", t.name); err != nil || len(c) == 0 {
			continue // an original working database has no history
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO `+t.name+` SELECT `+t.cols+`, ?, ? FROM src.`+t.name, src.Node, src.Address)
		if err != nil {
			return err
		}
		*t.n, _ = res.RowsAffected()
	}
	return tx.Commit()
}

func errText(err error) string {
	s := err.Error()
	if errors.Is(err, os.ErrNotExist) {
		s = "no such file"
	}
	return s
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
