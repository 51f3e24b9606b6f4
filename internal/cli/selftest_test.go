package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pmonitor/pmonitor/internal/selftest"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

func TestSelftestPasses(t *testing.T) {
	testenv.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "keep")
	out, errs, code := run(t, "test", "--interval", "500ms", "--timeout", "500ms", "--keep", dir)
	if code != 0 {
		t.Fatalf("pmonitor test: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		"host1 192.168.33.1: status 3 / 3\nhost3 192.168.55.3: status 3 / 3\nPASS  every agent sees all targets answering",
		"host1 192.168.33.1: status 2 / 3\nhost3 192.168.55.3: status 2 / 3\nPASS  both agents see host2 fail",
		"PASS  nothing left in the kernel",
		"PASS: all 5 checks passed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "analysis.db")); err != nil {
		t.Errorf("--keep: %v", err)
	}
	if _, errs, code := run(t, "test", "--keep", dir); code != 2 || !strings.Contains(errs, "already holds a run") {
		t.Errorf("test --keep on a used directory: exit %d, %q", code, errs)
	}
}

func TestSelftestJSON(t *testing.T) {
	testenv.RequireRoot(t)
	out, errs, code := run(t, "test", "--json", "--interval", "500ms", "--timeout", "500ms")
	var res selftest.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || !res.OK || len(res.Checks) != 5 {
		t.Fatalf("pmonitor test --json: exit %d, %v\n%s\n%s", code, err, out, errs)
	}
	if got := res.Checks[1].Status["192.168.55.3"]; got.Good != 2 || got.Total != 3 {
		t.Errorf("status of 192.168.55.3 after the cut = %+v; want 2 / 3", got)
	}
}
