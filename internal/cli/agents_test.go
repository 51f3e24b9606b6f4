package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

// TestAgentsShowsAPIURL: agents lists a running agent's API URL, in the
// table and in JSON, and never a stopped agent's stale one.
func TestAgentsShowsAPIURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	master := filepath.Join(dir, "master.db")
	reg, err := store.CreateRegistry(ctx, master)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(reg.Replace(ctx, []store.Target{{Address: "127.0.0.1", Name: "a", Run: true}, {Address: "127.0.0.2", Name: "b", Run: true}}))
	now := time.Now()
	must(reg.SetRunning(ctx, "127.0.0.1", true, 11, now))
	must(reg.SetAPIURL(ctx, "127.0.0.1", "http://127.0.0.1:9310"))
	must(reg.SetRunning(ctx, "127.0.0.2", true, 12, now))
	must(reg.SetAPIURL(ctx, "127.0.0.2", "http://127.0.0.2:9310"))
	must(reg.SetRunning(ctx, "127.0.0.2", false, 12, now))
	must(reg.Close())

	out, errs, code := run(t, "agents", master)
	if code != 0 {
		t.Fatal(errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, tc := range []struct{ prefix, suffix string }{
		{"NAME", "API"},
		{"a ", " http://127.0.0.1:9310"},
		{"b ", " -"},
	} {
		if i >= len(lines) || !strings.HasPrefix(lines[i], tc.prefix) || !strings.HasSuffix(lines[i], tc.suffix) {
			t.Errorf("agents line %d: want %q...%q in\n%s", i, tc.prefix, tc.suffix, out)
		}
	}

	out, errs, code = run(t, "agents", "--json", master)
	var rows []targetJSON
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 {
		t.Fatalf("agents --json: exit %d %s%s", code, out, errs)
	}
	if rows[0].APIURL != "http://127.0.0.1:9310" || rows[1].APIURL != "" {
		t.Errorf("agents --json api_url = %q, %q; want the running agent's only", rows[0].APIURL, rows[1].APIURL)
	}
	if !strings.Contains(out, `"api_url": "http://127.0.0.1:9310"`) && !strings.Contains(out, `"api_url":"http://127.0.0.1:9310"`) {
		t.Errorf("agents --json does not name the field api_url:\n%s", out)
	}
}
