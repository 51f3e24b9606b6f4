package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pmonitor/pmonitor/internal/etcdtest"
)

// TestEtcdRegistryWorkflow runs the registry commands against a real etcd
// member through an etcd:// MASTER_DB, and consolidates from it.
func TestEtcdRegistryWorkflow(t *testing.T) {
	c := etcdtest.Start(t, 1)
	master := c.URL("/wf")
	dir := t.TempDir()
	file := writeFile(t, dir, "t.csv", "name,address,stable\nhost1,127.0.0.1,true\nhost3,127.0.0.3,no\n")
	steps := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"init", master, file}, 0, "2 targets"},
		{[]string{"targets", "add", master, "host4", "127.0.0.4", "--unstable"}, 0, "added host4"},
		{[]string{"targets", "add", master, "dup", "127.0.0.4"}, 2, "duplicate target 127.0.0.4"},
		{[]string{"targets", "list", master}, 0, "host4  127.0.0.4  no"},
		{[]string{"stop", master, "127.0.0.3"}, 0, "run = false"},
		{[]string{"stop", master, "10.1.1.1"}, 2, "unknown target 10.1.1.1"},
		{[]string{"agents", master}, 0, "host3  127.0.0.3  no"},
		{[]string{"start", master, "127.0.0.3"}, 0, "run = true"},
		{[]string{"targets", "remove", master, "127.0.0.4"}, 0, "removed 127.0.0.4"},
		{[]string{"agents", "etcd://" + c.Endpoints()[0]}, 0, "NAME"}, // empty default prefix
		{[]string{"agents", "etcd://127.0.0.1/x"}, 1, "is not host:port"},
		{[]string{"agents", master, "--etcd-cert", "x.pem"}, 1, "--etcd-cert and --etcd-key go together"},
	}
	for _, s := range steps {
		out, errs, code := run(t, s.args...)
		if code != s.code || !strings.Contains(out+errs, s.contains) {
			t.Errorf("pmonitor %s: exit %d, output %q%q; want exit %d containing %q",
				strings.Join(s.args, " "), code, out, errs, s.code, s.contains)
		}
	}
	out, _, _ := run(t, "agents", "--json", master)
	var rows []targetJSON
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 || !rows[1].Run || rows[1].Stable {
		t.Errorf("agents --json = %s (%v)", out, err)
	}
	analysis := filepath.Join(dir, "analysis.db")
	if out, errs, code := run(t, "consolidate", master, analysis, "--from-registry"); code != 0 ||
		!strings.Contains(out, "2 registry targets, 0 working databases merged") {
		t.Errorf("consolidate --from-registry on an etcd registry: exit %d %s%s", code, out, errs)
	}
}
