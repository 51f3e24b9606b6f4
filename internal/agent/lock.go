package agent

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pmonitor/pmonitor/internal/store"
)

// One agent per working database and per source address: two agents on one
// working database double every count, and two for one source make the
// registry's running flag describe the wrong one.

// InUseError reports that another agent holds the working database.
type InUseError struct {
	Path   string // the working database
	PID    int    // the holder, 0 if it did not say
	Source string // its source address, "" if it did not say
}

func (e *InUseError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("%s is in use by another agent", e.Path)
	}
	return fmt.Sprintf("%s is in use by another agent (pid %d, source %s)", e.Path, e.PID, e.Source)
}

// LockSuffix names the lock file of a working database: WORKING_DB + LockSuffix.
const LockSuffix = ".lock"

// LockWorking claims the working database at path for the agent at self
// with flock(2) on path+LockSuffix. The kernel releases the lock when the
// process ends, however it ends (kill -9 included), so a lock is never
// stale; the file itself stays, holding the last holder's pid and source.
// A database held by another agent is *InUseError.
func LockWorking(path string, self netip.Addr) (unlock func(), err error) {
	lockPath := path + LockSuffix
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock working db: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, holder(f, path)
		}
		return nil, fmt.Errorf("lock working db %s: %w", lockPath, err)
	}
	// Who holds it, for the message of the next agent that tries.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%d %s\n", os.Getpid(), self)
	}
	return func() { f.Close() }, nil
}

// holder reads who holds the lock file f.
func holder(f *os.File, path string) error {
	e := &InUseError{Path: path}
	b := make([]byte, 128)
	n, _ := f.ReadAt(b, 0)
	if fields := strings.Fields(string(b[:n])); len(fields) == 2 {
		e.PID, _ = strconv.Atoi(fields[0])
		e.Source = fields[1]
	}
	return e
}

// RunningError reports that the registry shows a live agent for the
// source address.
type RunningError struct {
	Source    string
	PID       int
	Heartbeat time.Time
}

func (e *RunningError) Error() string {
	return fmt.Sprintf("an agent for %s is already running (pid %d, heartbeat %s)",
		e.Source, e.PID, e.Heartbeat.Format(time.RFC3339))
}

// aliveElsewhere reports whether the registry row me describes another
// agent that is alive: running, a heartbeat younger than fresh, and a pid
// that exists on this host. A killed agent leaves running set, but its pid
// is gone; a hung one stops beating.
func aliveElsewhere(me store.Target, now time.Time, fresh time.Duration) error {
	if !me.Running || me.PID <= 0 || me.Heartbeat.IsZero() || now.Sub(me.Heartbeat) > fresh {
		return nil
	}
	if err := unix.Kill(me.PID, 0); err != nil && !errors.Is(err, unix.EPERM) {
		return nil // no such process
	}
	return &RunningError{Source: me.Address, PID: me.PID, Heartbeat: me.Heartbeat}
}

// SameFile reports whether the paths a and b name the same file, however
// spelled (symlinks, "..", relative); for files that do not exist yet it
// compares the cleaned absolute paths of their resolved directories.
func SameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb)
	}
	if errA == nil || errB == nil {
		return false // one exists, the other does not
	}
	return resolved(a) == resolved(b)
}

func resolved(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	dir := filepath.Dir(abs)
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	return filepath.Join(dir, filepath.Base(abs))
}
