package cli

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

// TestMonitorUsageErrors: bounds and file mix-ups are usage errors (exit 2,
// one line), found before any socket or database is opened.
func TestMonitorUsageErrors(t *testing.T) {
	dir := t.TempDir()
	master := filepath.Join(dir, "m.db")
	if err := os.WriteFile(master, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(master, link); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "w.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{master, work, "127.0.0.1", "--interval", "1ns"}, "monitor: --interval 1ns: must be at least 100ms"},
		{[]string{master, work, "127.0.0.1", "--interval", "99ms"}, "monitor: --interval 99ms: must be at least 100ms"},
		{[]string{master, work, "127.0.0.1", "--timeout", "0s"}, "monitor: --timeout 0s: must be at least 1ms"},
		{[]string{master, work, "127.0.0.1", "--timeout", "999us"}, "monitor: --timeout 999µs: must be at least 1ms"},
		{[]string{master, work, "127.0.0.1", "--retention", "-1s"}, "monitor: --retention -1s: must not be negative"},
		{[]string{master, master, "127.0.0.1"}, "monitor: MASTER_DB and WORKING_DB are the same file"},
		{[]string{master, filepath.Join(dir, ".", "m.db"), "127.0.0.1"}, "monitor: MASTER_DB and WORKING_DB are the same file"},
		{[]string{master, link, "127.0.0.1"}, "monitor: MASTER_DB and WORKING_DB are the same file"},
		{[]string{filepath.Join(dir, "new.db"), filepath.Join(dir, "sub", "..", "new.db"), "127.0.0.1"}, "monitor: MASTER_DB and WORKING_DB are the same file"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			out, errs, code := run(t, append([]string{"monitor"}, tc.args...)...)
			if code != 2 || out != "" || !strings.Contains(errs, tc.want) || strings.Count(errs, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line containing %q", code, out, errs, tc.want)
			}
		})
	}
	out, _, code := run(t, "monitor", "--help")
	for _, want := range []string{"at least 100ms", "at least 1ms"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("monitor --help (exit %d) does not state the bound %q:\n%s", code, want, out)
		}
	}
}

// monitorFixture is a registry with this host's loopback addresses.
func monitorFixture(t *testing.T) (dir, master string) {
	t.Helper()
	dir = t.TempDir()
	master = filepath.Join(dir, "master.db")
	file := writeFile(t, dir, "t.csv", "self,127.0.0.1\nother,127.0.0.2\n")
	if _, errs, code := run(t, "init", master, file); code != 0 {
		t.Fatalf("init: %s", errs)
	}
	return dir, master
}

// startMonitor runs 'monitor' in this process until the test ends and
// waits until its me row is written and the registry says it runs (a
// second agent checks the registry: the me row comes first).
func startMonitor(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		var out, errb bytes.Buffer
		code := Run(ctx, append([]string{"monitor", "--interval", "100ms", "--timeout", "50ms"}, args...), &out, &errb)
		done <- fmt.Sprintf("exit %d: %s", code, errb.String())
	}()
	t.Cleanup(func() {
		cancel()
		if r := <-done; !strings.HasPrefix(r, "exit 0") {
			t.Errorf("first agent: %s", r)
		}
	})
	db, err := sql.Open("sqlite", args[1]+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg, err := sql.Open("sqlite", args[0]+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var me, running int
		if db.QueryRow(`SELECT COUNT(*) FROM targets WHERE me = TRUE`).Scan(&me) == nil && me == 1 &&
			reg.QueryRow(`SELECT COUNT(*) FROM targets WHERE running = TRUE`).Scan(&running) == nil && running == 1 {
			return
		}
		select {
		case r := <-done:
			t.Fatalf("first agent ended: %s", r)
		case <-time.After(20 * time.Millisecond): // another goroutine writes the file: nothing to wait on
		}
		if time.Now().After(deadline) {
			t.Fatal("first agent did not start")
		}
	}
}

// TestMonitorOneAgentPerWorkingDB: a second agent on the same working
// database refuses with one line naming the first, exit 2.
func TestMonitorOneAgentPerWorkingDB(t *testing.T) {
	testenv.RequireRoot(t)
	dir, master := monitorFixture(t)
	work := filepath.Join(dir, "work.db")
	startMonitor(t, master, work, "127.0.0.1")
	_, errs, code := run(t, "monitor", master, work, "127.0.0.2")
	want := fmt.Sprintf("monitor: %s is in use by another agent (pid %d, source 127.0.0.1)", work, os.Getpid())
	if code != 2 || !strings.Contains(errs, want) || strings.Count(errs, "\n") != 1 {
		t.Errorf("second agent on the same working db: exit %d, stderr %q; want exit 2 and one line with %q", code, errs, want)
	}
}

// TestMonitorOneAgentPerSource: a second agent for a source whose agent is
// alive refuses, even with another working database.
func TestMonitorOneAgentPerSource(t *testing.T) {
	testenv.RequireRoot(t)
	dir, master := monitorFixture(t)
	startMonitor(t, master, filepath.Join(dir, "work1.db"), "127.0.0.1")
	_, errs, code := run(t, "monitor", master, filepath.Join(dir, "work2.db"), "::ffff:127.0.0.1")
	want := fmt.Sprintf("monitor: an agent for 127.0.0.1 is already running (pid %d", os.Getpid())
	if code != 2 || !strings.Contains(errs, want) || strings.Count(errs, "\n") != 1 {
		t.Errorf("second agent for the same source: exit %d, stderr %q; want exit 2 and one line with %q", code, errs, want)
	}
}

// TestMonitorNotAllowed: an agent whose row says run = FALSE does not
// start, says why in one line and exits non-zero.
func TestMonitorNotAllowed(t *testing.T) {
	testenv.RequireRoot(t)
	dir, master := monitorFixture(t)
	if _, errs, code := run(t, "stop", master, "127.0.0.1"); code != 0 {
		t.Fatal(errs)
	}
	_, errs, code := run(t, "monitor", master, filepath.Join(dir, "w.db"), "127.0.0.1")
	want := "monitor: run = FALSE in the registry for 127.0.0.1; not starting"
	if code != 1 || !strings.Contains(errs, want) || strings.Count(errs, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want exit 1 and one line with %q", code, errs, want)
	}
}
