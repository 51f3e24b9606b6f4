package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store/storetest"
)

// runBound is how long a command run by a test may take: one that should
// return but runs on (an agent that should have refused to start) is
// stopped and fails its test instead of hanging the suite.
const runBound = 2 * time.Minute

// run executes a pmonitor command line and returns stdout, stderr and the
// exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runBound)
	defer cancel()
	var out, errb bytes.Buffer
	code := Run(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// cliStep is one command of a workflow: its exit code and a piece of its
// output (stdout and stderr together).
type cliStep struct {
	args     []string
	code     int
	contains string
}

// registryWorkflow runs the registry commands every backend must answer
// alike (MASTER_DB a SQLite path or an etcd:// URL), then extra, and checks
// that every error is one line and that agents --json reads back the flags.
func registryWorkflow(t *testing.T, master, file string, extra ...cliStep) {
	t.Helper()
	steps := append([]cliStep{
		{[]string{"init", master, file}, 0, "2 targets"},
		{[]string{"targets", "add", master, "host4", "127.0.0.4", "--unstable"}, 0, "added host4"},
		{[]string{"targets", "add", master, "dup", "127.0.0.4"}, 2, "duplicate target 127.0.0.4"},
		{[]string{"targets", "list", master}, 0, "host4  127.0.0.4  no"},
		{[]string{"stop", master, "127.0.0.3"}, 0, "run = false"},
		{[]string{"stop", master, "10.1.1.1"}, 2, "unknown target 10.1.1.1"},
		{[]string{"agents", master}, 0, "host3  127.0.0.3  no"},
		{[]string{"start", master, "127.0.0.3"}, 0, "run = true"},
		{[]string{"targets", "remove", master, "127.0.0.4"}, 0, "removed 127.0.0.4"},
		{[]string{"targets", "frob", master}, 2, "unknown subcommand"},
	}, extra...)
	for _, s := range steps {
		out, errs, code := run(t, s.args...)
		if code != s.code || !strings.Contains(out+errs, s.contains) {
			t.Errorf("pmonitor %s: exit %d, output %q%q; want exit %d containing %q",
				strings.Join(s.args, " "), code, out, errs, s.code, s.contains)
		}
		if code != 0 && strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("pmonitor %s: error is not one line: %q", strings.Join(s.args, " "), errs)
		}
	}
	out, _, _ := run(t, "agents", "--json", master)
	var rows []targetJSON
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 || !rows[1].Run || rows[1].Stable {
		t.Errorf("agents --json = %s (%v)", out, err)
	}
}

func TestRegistryWorkflow(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "t.csv", "name,address,stable\nhost1,127.0.0.1,true\nhost3,127.0.0.3,no\n")
	registryWorkflow(t, filepath.Join(dir, "master.db"), file,
		cliStep{[]string{"stop", filepath.Join(dir, "none.db"), "127.0.0.1"}, 1, "no such file"})
}

func TestInitBadFileLeavesRegistryUnchanged(t *testing.T) {
	dir := t.TempDir()
	master := filepath.Join(dir, "master.db")
	good := writeFile(t, dir, "good.csv", "a,127.0.0.1\nb,127.0.0.2\n")
	if _, errs, code := run(t, "init", master, good); code != 0 {
		t.Fatalf("init: %s", errs)
	}
	before, _ := os.ReadFile(master)
	for _, tc := range []struct{ text, want string }{
		{"a,127.0.0.1\nb,127.0.0.1\n", `bad.csv:2: duplicate address "127.0.0.1" (first on line 1)`},
		{"a,127.0.0.1\nb,300.1.1.1\n", `bad.csv:2: invalid address "300.1.1.1"`},
		{"a,127.0.0.1\n,127.0.0.2\n", `bad.csv:2: missing name`},
		{"a,127.0.0.1,perhaps\n", `bad.csv:1: bad stable value "perhaps" (want true/false/yes/no/1/0)`},
	} {
		bad := writeFile(t, dir, "bad.csv", tc.text)
		_, errs, code := run(t, "init", master, bad)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("init with %q: exit %d, stderr %q; want error %q", tc.text, code, errs, tc.want)
		}
		after, _ := os.ReadFile(master)
		if !bytes.Equal(before, after) {
			t.Errorf("init with %q changed the registry", tc.text)
		}
	}
	// A bad file never creates a registry either.
	fresh := filepath.Join(dir, "fresh.db")
	bad := writeFile(t, dir, "bad.csv", "a,nope\n")
	run(t, "init", fresh, bad)
	if _, err := os.Stat(fresh); err == nil {
		t.Error("init with a bad file created the registry")
	}
}

func TestReportsOnPlainSQL(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work.db")
	master := filepath.Join(dir, "master.db")
	storetest.CreateOriginal(t, work, `INSERT INTO targets(address, name, me) VALUES ('10.0.0.1', 'me', TRUE)`,
		`INSERT INTO targets(address, name, stable, responded, sample_time, total_count, total_success) VALUES
		 ('10.0.0.2', 'a', TRUE, TRUE, 100, 3, 3), ('10.0.0.3', 'b', FALSE, FALSE, 200, 2, 1), ('10.0.0.4', 'c', TRUE, FALSE, 0, 0, 0)`)
	storetest.CreateOriginal(t, master, `INSERT INTO targets(address, name) VALUES ('10.0.0.1', 'me'), ('10.0.0.2', 'a')`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", work}, "status 1 / 2\n"},
		{[]string{"status", work, "--stable"}, "status 1 / 1\n"},
		{[]string{"status", "--json", work}, "{\n  \"good\": 1,\n  \"total\": 2\n}\n"},
	} {
		out, errs, code := run(t, tc.args...)
		if code != 0 || out != tc.want {
			t.Errorf("pmonitor %v = %q (exit %d, %s); want %q", tc.args, out, code, errs, tc.want)
		}
	}
	out, _, _ := run(t, "list", work)
	if !strings.Contains(out, "a     10.0.0.2  yes") || strings.Contains(out, "10.0.0.4") {
		t.Errorf("list:\n%s", out)
	}
	out, _, _ = run(t, "last", work, "-n", "1", "--json")
	if !strings.Contains(out, `"address": "10.0.0.3"`) || strings.Contains(out, "10.0.0.2") {
		t.Errorf("last -n 1 --json:\n%s", out)
	}
	out, errs, code := run(t, "consolidate", master, filepath.Join(dir, "out.db"), work, filepath.Join(dir, "gone.db"))
	if code != 0 || !strings.Contains(out, "1 working databases merged, 1 skipped") || !strings.Contains(errs, "gone.db") {
		t.Errorf("consolidate: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestHelpAndUsage(t *testing.T) {
	for _, c := range commands() {
		out, _, code := run(t, c.name, "--help")
		if code != 0 || !strings.Contains(out, "Usage: pmonitor "+c.name) {
			t.Errorf("%s --help: exit %d, %q", c.name, code, out)
		}
	}
	if _, errs, code := run(t, "status"); code != 2 || !strings.Contains(errs, "missing arguments") {
		t.Errorf("status without args: exit %d, %q", code, errs)
	}
	if _, errs, code := run(t, "status", "--bogus", "x"); code != 2 || !strings.Contains(errs, "flag provided but not defined") {
		t.Errorf("status --bogus: exit %d, %q", code, errs)
	}
}

func TestAdvertisedURL(t *testing.T) {
	self := netip.MustParseAddr("10.0.0.7")
	for _, tc := range []struct{ bound, want string }{
		{"127.0.0.1:9310", "http://127.0.0.1:9310"},
		{"0.0.0.0:9310", "http://10.0.0.7:9310"},
		{"[::]:9310", "http://10.0.0.7:9310"},
		{"[::1]:80", "http://[::1]:80"},
	} {
		if got, err := advertisedURL("", tc.bound, self); err != nil || got != tc.want {
			t.Errorf("advertisedURL(%q) = %q, %v; want %q", tc.bound, got, err, tc.want)
		}
	}
}
