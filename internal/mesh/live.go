package mesh

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pmonitor/pmonitor/internal/store"
)

// readers bounds the working databases read at once: two cores are shared
// with the agents themselves.
const readers = 4

// Live is a running deployment: the registry and the working databases,
// given as a list of files or as a directory watched for new ones.
type Live struct {
	master string
	src    store.Registry // when set, the registry is read through it, not from master
	dir    string         // "" when the working databases were listed

	mu      sync.Mutex // guards reg and dbs (the list, not their reads)
	reg     *sql.DB
	regF    os.FileInfo
	regSig  fileSig       // of the last good registry read
	regRows []RegistryRow // what it read
	dbs     []*workingDB
	seen    map[string]bool // paths already in dbs

	reads, skips atomic.Uint64 // working database reads made and spared
}

// ReadStats counts the reads of working databases by the ticks: made, and
// spared because the file had not changed.
type ReadStats struct {
	Reads, Skipped uint64
}

// ReadStats returns the counts so far.
func (l *Live) ReadStats() ReadStats {
	return ReadStats{Reads: l.reads.Load(), Skipped: l.skips.Load()}
}

// OpenLive prepares a live source on the registry at master and the
// working databases at paths, plus every *.db file that is or appears in
// dir (when dir is not ""). Nothing is opened yet: files that are missing
// now are reported by Snapshot and retried on every call.
func OpenLive(master string, paths []string, dir string) (*Live, error) {
	if master == "" {
		return nil, errors.New("no registry")
	}
	return openLive(&Live{master: master, dir: dir, seen: map[string]bool{}}, paths)
}

// OpenLiveRegistry is OpenLive with the registry read through reg (an etcd
// registry, say) on every read instead of from a SQLite file. Close does
// not close reg; the caller does, after the Live.
func OpenLiveRegistry(reg store.Registry, paths []string, dir string) (*Live, error) {
	if reg == nil {
		return nil, errors.New("no registry")
	}
	return openLive(&Live{src: reg, dir: dir, seen: map[string]bool{}}, paths)
}

func openLive(l *Live, paths []string) (*Live, error) {
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("working database %s: %w", p, err)
		}
		if l.seen[abs] {
			continue
		}
		l.seen[abs] = true
		l.dbs = append(l.dbs, &workingDB{path: abs, label: fmt.Sprintf("working database %d", i+1)})
	}
	return l, nil
}

// Close closes every database.
func (l *Live) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.dbs {
		w.close()
	}
	if l.reg != nil {
		l.reg.Close()
		l.reg = nil
	}
	return nil
}

// scanDir adds the *.db files of dir not seen yet (not the registry).
func (l *Live) scanDir() {
	if l.dir == "" {
		return
	}
	names, err := filepath.Glob(filepath.Join(l.dir, "*.db"))
	if err != nil {
		return
	}
	sort.Strings(names)
	var mfi os.FileInfo
	if l.src == nil {
		mfi, _ = os.Stat(l.master)
	}
	for _, n := range names {
		abs, err := filepath.Abs(n)
		if err != nil || l.seen[abs] || strings.HasSuffix(abs, ".partial") {
			continue
		}
		if fi, err := os.Stat(abs); err != nil || (mfi != nil && os.SameFile(fi, mfi)) {
			continue
		}
		l.seen[abs] = true
		l.dbs = append(l.dbs, &workingDB{path: abs, label: "file " + filepath.Base(abs), dirScan: true})
	}
}

// registry reads the registry, opening it on first use and again after it
// was replaced, unless it provably did not change since the last read.
func (l *Live) registry(ctx context.Context) ([]RegistryRow, error) {
	if l.src != nil {
		return readStore(ctx, l.src)
	}
	sig := statSig(l.master, time.Now())
	if l.reg != nil && l.regRows != nil && l.regSig.unchanged(sig) {
		return l.regRows, nil
	}
	l.regSig, l.regRows = fileSig{}, nil
	fi, err := os.Stat(l.master)
	if err != nil {
		return nil, fmt.Errorf("registry: %s", reason(err))
	}
	if l.reg != nil && !os.SameFile(fi, l.regF) {
		l.reg.Close()
		l.reg = nil
	}
	if l.reg == nil {
		db, err := openReadOnly(ctx, l.master)
		if err != nil {
			return nil, fmt.Errorf("registry: %s", reason(err))
		}
		l.reg, l.regF = db, fi
	}
	rows, err := readRegistry(ctx, l.reg)
	if err != nil {
		l.reg.Close()
		l.reg = nil
		return nil, fmt.Errorf("registry: %s", reason(err))
	}
	l.regSig, l.regRows = sig, rows
	return rows, nil
}

// reading is one read of a live deployment: the registry rows (nil, with
// regErr, when unreadable) and one view per working database.
type reading struct {
	reg    []RegistryRow
	regErr error
	dbs    []*workingDB
	views  []*View
}

// read reads the registry and every working database.
func (l *Live) read(ctx context.Context, now float64) reading {
	l.mu.Lock()
	l.scanDir()
	reg, regErr := l.registry(ctx)
	dbs := append([]*workingDB(nil), l.dbs...)
	l.mu.Unlock()
	views := make([]*View, len(dbs))
	var g errgroup.Group
	g.SetLimit(readers)
	for i, w := range dbs {
		g.Go(func() error {
			w.mu.Lock()
			defer w.mu.Unlock()
			v, read := w.read(ctx, now)
			views[i] = v
			if read {
				l.reads.Add(1)
			} else {
				l.skips.Add(1)
			}
			return nil
		})
	}
	g.Wait()
	return reading{reg: reg, regErr: regErr, dbs: dbs, views: views}
}

// SetRun sets the registry's run flag of the agent at address through a
// read-write connection opened for this one statement.
func (l *Live) SetRun(ctx context.Context, address string, run bool) error {
	if l.src != nil {
		if _, err := l.src.Lookup(ctx, address); errors.Is(err, store.ErrUnknownTarget) {
			return fmt.Errorf("set run flag of %s: %w", address, ErrNotFound)
		}
		return l.src.SetRun(ctx, address, run)
	}
	abs, err := filepath.Abs(l.master)
	if err != nil {
		return err
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "_busy_timeout=5000"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return err
	}
	defer db.Close()
	return setRun(ctx, db, address, run)
}

// handles returns the open working databases with a known agent, for
// history queries.
func (l *Live) handles() []*workingDB {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*workingDB
	for _, w := range l.dbs {
		w.mu.Lock()
		if w.me != nil && w.db != nil {
			out = append(out, w)
		}
		w.mu.Unlock()
	}
	return out
}
