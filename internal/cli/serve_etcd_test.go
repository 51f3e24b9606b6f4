package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/etcdtest"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// TestServeFromEtcdRegistry: serve finds a real agent through an etcd
// registry and shows its rows from the working database it downloads over
// HTTP with the bearer token; nothing shares a directory with the agent.
func TestServeFromEtcdRegistry(t *testing.T) {
	testenv.RequireRoot(t) // the agent probes with raw sockets
	c := etcdtest.Start(t, 1)
	master := c.URL("/serve")
	targets := writeFile(t, t.TempDir(), "targets.csv", "a,127.0.0.1,true\nb,127.0.0.2,true\n")
	if _, errs, code := run(t, "init", master, targets); code != 0 {
		t.Fatal(errs)
	}
	token := writeFile(t, t.TempDir(), "api.token", "s3cret-token-for-the-test\n")
	startAgent(t, master, filepath.Join(t.TempDir(), "work.db"), "127.0.0.1", "--interval", "500ms", "--timeout", "300ms",
		"--listen", "127.0.0.1:0", "--api-token-file", token, "--lease-ttl", "2s", "--log-level", "warn")
	base := startServe(t, master, "--from-registry", "--api-token-file", token, "--pull-interval", "1s",
		"--listen", "127.0.0.1:0", "--log-level", "warn")
	awaitJSON(t, base+"/api/v1/nodes/a", 30*time.Second, func(v any) bool {
		m, _ := v.(map[string]any)
		agent, _ := m["agent"].(map[string]any)
		if agent["state"] != "running" || agent["url"] == "" || agent["url"] == nil {
			return false
		}
		rows, _ := m["targets"].([]any)
		for _, r := range rows {
			row, _ := r.(map[string]any)
			if row["address"] == "127.0.0.2" && row["total_count"].(float64) > 0 && row["responded"] == true {
				return true
			}
		}
		return false
	})
	// agents names the URL the running agent advertises on its lease.
	out, errs, code := run(t, "agents", "--json", master)
	var rows []targetJSON
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 ||
		!strings.HasPrefix(rows[0].APIURL, "http://127.0.0.1:") || rows[1].APIURL != "" {
		t.Errorf("agents --json on etcd: exit %d %s%s", code, out, errs)
	}
}
