package cli

import (
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
	registryWorkflow(t, master, file,
		cliStep{[]string{"agents", "etcd://" + c.Endpoints()[0]}, 0, "NAME"}, // empty default prefix
		cliStep{[]string{"agents", "etcd://127.0.0.1/x"}, 1, "is not host:port"},
		cliStep{[]string{"agents", master, "--etcd-cert", "x.pem"}, 1, "--etcd-cert and --etcd-key go together"},
	)
	analysis := filepath.Join(dir, "analysis.db")
	if out, errs, code := run(t, "consolidate", master, analysis, "--from-registry"); code != 0 ||
		!strings.Contains(out, "2 registry targets, 0 working databases merged") {
		t.Errorf("consolidate --from-registry on an etcd registry: exit %d %s%s", code, out, errs)
	}
}
