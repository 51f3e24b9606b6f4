package agent_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/cli"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// beMain makes the test binary act as the pmonitor binary when set, so the
// tests below run real agent processes that can be killed.
const beMain = "PMONITOR_AGENT_TEST_BE_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(beMain) == "1" {
		os.Exit(cli.Main())
	}
	os.Exit(m.Run())
}

// pmonitor runs a pmonitor command to completion.
func pmonitor(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := cli.Run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("pmonitor %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// startAgentProcess starts 'pmonitor monitor' with the original positional
// form, flags appended the way orchestrators do.
func startAgentProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"monitor"}, args...)...)
	cmd.Env = append(os.Environ(), beMain+"=1")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// awaitCount polls query on the database at path until it returns at least min.
func awaitCount(t *testing.T, path, query string, min int) int {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(20 * time.Second)
	var n int
	for time.Now().Before(deadline) {
		if err := db.QueryRow(query).Scan(&n); err == nil && n >= min {
			return n
		}
		time.Sleep(50 * time.Millisecond) // another process writes: nothing to wait on but the file
	}
	t.Fatalf("%s = %d, want >= %d", query, n, min)
	return 0
}

// TestKill9Recovery kills an agent at an arbitrary moment: the working
// database stays intact, and a restarted agent continues the counts.
func TestKill9Recovery(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	master, work := filepath.Join(dir, "master.db"), filepath.Join(dir, "work.db")
	var csv strings.Builder
	csv.WriteString("name,address,stable\nself,127.0.0.1,true\n")
	for i := 2; i < 22; i++ {
		fmt.Fprintf(&csv, "t%d,127.0.7.%d,true\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "t.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	pmonitor(t, "init", master, filepath.Join(dir, "t.csv"))

	agent := startAgentProcess(t, master, work, "127.0.0.1", "--interval", "200ms", "--timeout", "500ms")
	awaitCount(t, work, `SELECT MIN(total_count) FROM targets WHERE me = FALSE`, 5)
	// Every target answered at least once; on a loaded machine one may have
	// just timed out: wait for the state rather than check it once.
	awaitStatus(t, work, "status 20 / 20\n")
	if err := agent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	agent.Wait()

	db, err := sql.Open("sqlite", work)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check after kill -9 = %q, %v", check, err)
	}
	var before int
	db.QueryRow(`SELECT SUM(total_count) FROM targets`).Scan(&before)

	// The killed agent's lock on work.db died with it: the restart may run.
	agent = startAgentProcess(t, master, work, "127.0.0.1", "--interval", "200ms", "--timeout", "500ms")
	awaitCount(t, work, `SELECT SUM(total_count) FROM targets`, before+40) // two more rounds, on top
	var mes int
	db.QueryRow(`SELECT COUNT(*) FROM targets WHERE me = TRUE`).Scan(&mes)
	if mes != 1 {
		t.Errorf("%d me rows after restart, want 1", mes)
	}
	// The orchestrator's stop, then the agent's clean exit.
	pmonitor(t, "stop", master, "127.0.0.1")
	done := make(chan error, 1)
	go func() { done <- agent.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent exit after stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop")
	}
	if out := pmonitor(t, "agents", "--json", master); !strings.Contains(out, `"running": false`) || strings.Contains(out, `"running": true`) {
		t.Errorf("running flag after a clean stop:\n%s", out)
	}
	if out := pmonitor(t, "last", work, "-n", "3"); strings.Count(out, "\n") != 4 {
		t.Errorf("last -n 3:\n%s", out)
	}
}

// awaitStatus runs 'pmonitor status' until it prints want.
func awaitStatus(t *testing.T, work, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var out string
	for time.Now().Before(deadline) {
		if out = pmonitor(t, "status", work); out == want {
			return
		}
		time.Sleep(50 * time.Millisecond) // another process writes: nothing to wait on but the file
	}
	t.Errorf("status while running = %q, want %q", out, want)
}

// TestSignalsStopCleanly: SIGHUP, SIGTERM and SIGINT each stop the agent
// cleanly: exit 0, results written, running cleared.
func TestSignalsStopCleanly(t *testing.T) {
	testenv.RequireRoot(t)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			master, work := filepath.Join(dir, "master.db"), filepath.Join(dir, "work.db")
			if err := os.WriteFile(filepath.Join(dir, "t.csv"), []byte("self,127.0.0.1\nt2,127.0.0.2\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			pmonitor(t, "init", master, filepath.Join(dir, "t.csv"))
			agent := startAgentProcess(t, master, work, "127.0.0.1", "--interval", "100ms", "--timeout", "50ms")
			awaitCount(t, work, `SELECT total_count FROM targets WHERE address = '127.0.0.2'`, 2)
			if err := agent.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := agent.Wait(); err != nil {
				t.Fatalf("agent exit after %v: %v (want exit 0)", sig, err)
			}
			if out := pmonitor(t, "agents", "--json", master); strings.Contains(out, `"running": true`) {
				t.Errorf("running flag after %v:\n%s", sig, out)
			}
		})
	}
}

// TestMonitorRejectsForeignSource checks the one-line error and exit 2 for a
// source address that is not on this host or not an address at all.
func TestMonitorRejectsForeignSource(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ src, want string }{
		{"300.1.1.1", `invalid source address "300.1.1.1"`},
		{"192.0.2.77", "source address 192.0.2.77 is not an address of this host"},
	} {
		var out, errb bytes.Buffer
		code := cli.Run(context.Background(), []string{"monitor", filepath.Join(dir, "m.db"), filepath.Join(dir, "w.db"), tc.src}, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tc.want) || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("monitor with source %s: exit %d, stderr %q; want exit 2 and one line with %q", tc.src, code, errb.String(), tc.want)
		}
	}
}
