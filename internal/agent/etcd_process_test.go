package agent_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/cli"
	"github.com/pmonitor/pmonitor/internal/etcdtest"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// agentRunning polls 'pmonitor agents --json' until the agent at address
// shows running == want.
func agentRunning(t *testing.T, master, address string, want bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var rows []struct {
			Address string `json:"address"`
			Running bool   `json:"running"`
		}
		json.Unmarshal([]byte(pmonitor(t, "agents", "--json", master)), &rows)
		for _, r := range rows {
			if r.Address == address && r.Running == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent %s running != %v after %v: %+v", address, want, within, rows)
		}
		time.Sleep(100 * time.Millisecond) // another process's lease: nothing to wait on
	}
}

// TestEtcdAgentProcess runs a real agent process on an etcd registry: it
// registers on a lease, serves its working database to consolidate
// --from-registry behind a token, follows edits, disappears from `agents`
// after kill -9, and restarts on its cached list while etcd is down.
func TestEtcdAgentProcess(t *testing.T) {
	testenv.RequireRoot(t)
	c := etcdtest.Start(t, 1)
	master := c.URL("/proc")
	dir := t.TempDir()
	work := filepath.Join(dir, "work.db")
	csv := "self,127.0.0.1\nb,127.0.0.2\nc,127.0.0.3\n"
	if err := os.WriteFile(filepath.Join(dir, "t.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pmonitor(t, "init", master, filepath.Join(dir, "t.csv"))
	args := []string{master, work, "127.0.0.1", "--interval", "200ms", "--timeout", "500ms", "--lease-ttl", "2s",
		"--listen", "127.0.0.1:0", "--api-token-file", filepath.Join(dir, "token")}
	agent := startAgentProcess(t, args...)
	agentRunning(t, master, "127.0.0.1", true, 10*time.Second)
	awaitCount(t, work, `SELECT MIN(total_count) FROM targets WHERE me = FALSE`, 2)

	out := pmonitor(t, "consolidate", master, filepath.Join(dir, "a.db"), "--from-registry", "--api-token-file", filepath.Join(dir, "token"))
	if !strings.Contains(out, "1 working databases merged, 0 skipped") {
		t.Errorf("consolidate --from-registry:\n%s", out)
	}
	a, err := sql.Open("sqlite", filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var rows int
	if err := a.QueryRow(`SELECT COUNT(*) FROM node_history WHERE source_node = 'self'`).Scan(&rows); err != nil || rows != 2 {
		t.Errorf("node_history rows of self = %d, %v; want 2", rows, err)
	}
	// No token: refused, and nothing merged is exit 1.
	var stdout, stderr bytes.Buffer
	cargs := []string{"consolidate", master, filepath.Join(dir, "b.db"), "--from-registry"}
	if code := cli.Run(context.Background(), cargs, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "401 Unauthorized") {
		t.Errorf("consolidate without the token: exit %d, %s%s; want exit 1 and 401 Unauthorized", code, stdout.String(), stderr.String())
	}

	pmonitor(t, "targets", "add", master, "d", "127.0.0.4")
	awaitCount(t, work, `SELECT COUNT(*) FROM targets WHERE address = '127.0.0.4' AND total_count > 0`, 1)

	agent.Process.Signal(syscall.SIGKILL)
	agent.Wait()
	agentRunning(t, master, "127.0.0.1", false, 10*time.Second) // the lease expires

	// etcd down: a restarted agent probes its cached list (four targets).
	c.Kill(0)
	var before int
	db, _ := sql.Open("sqlite", work)
	defer db.Close()
	db.QueryRow(`SELECT SUM(total_count) FROM targets`).Scan(&before)
	startAgentProcess(t, args...)
	awaitCount(t, work, `SELECT SUM(total_count) FROM targets`, before+3*5)
	c.Restart(0)
	agentRunning(t, master, "127.0.0.1", true, 20*time.Second) // registered once etcd answers
	pmonitor(t, "targets", "remove", master, "127.0.0.2")
	awaitCount(t, work, `SELECT 1 - COUNT(*) FROM targets WHERE address = '127.0.0.2'`, 1)
}
