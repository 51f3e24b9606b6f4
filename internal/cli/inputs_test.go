package cli

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/store/storetest"
)

// TestExactInputs: one canonical address form, any spelling accepted on
// the command line, unicast targets and clean names only; bad data exits 2
// with one exact line.
func TestExactInputs(t *testing.T) {
	dir := t.TempDir()
	master := filepath.Join(dir, "master.db")
	file := writeFile(t, dir, "t.csv", "host1,127.0.0.1\nhost2,::ffff:127.0.0.2\n")
	for _, s := range []struct {
		args []string
		code int
		out  string // exact stdout, or exact stderr when code != 0
	}{
		{[]string{"init", master, file}, 0, "registry " + master + ": 2 targets\n"},
		{[]string{"targets", "list", master}, 0, "NAME   ADDRESS    STABLE  RUN\nhost1  127.0.0.1  yes     yes\nhost2  127.0.0.2  yes     yes\n"},
		{[]string{"targets", "add", master, "dup", "::ffff:127.0.0.1"}, 2,
			"pmonitor: add targets in registry " + master + ": duplicate target 127.0.0.1\n"},
		{[]string{"targets", "add", master, "mc", "224.0.0.1"}, 2,
			"pmonitor: targets add: address \"224.0.0.1\" is multicast, want a unicast address\n"},
		{[]string{"targets", "add", master, "any", "::"}, 2,
			"pmonitor: targets add: address \"::\" is unspecified, want a unicast address\n"},
		{[]string{"targets", "add", master, "bc", "255.255.255.255"}, 2,
			"pmonitor: targets add: address \"255.255.255.255\" is broadcast, want a unicast address\n"},
		{[]string{"targets", "add", master, "bad\xffname", "127.0.0.9"}, 2,
			"pmonitor: targets add: invalid name \"bad\\xffname\" (want UTF-8 text without control characters)\n"},
		{[]string{"targets", "add", master, "v4", "::ffff:127.0.0.4"}, 0, "added v4 127.0.0.4\n"},
		{[]string{"stop", master, "::ffff:127.0.0.2"}, 0, "127.0.0.2: run = false\n"},
		{[]string{"start", master, "0:0:0:0:0:ffff:7f00:2"}, 0, "127.0.0.2: run = true\n"},
		{[]string{"stop", master, "10.1.1.1"}, 2, "pmonitor: set run in registry " + master + ": unknown target 10.1.1.1\n"},
		{[]string{"targets", "remove", master, "::ffff:127.0.0.4"}, 0, "removed 127.0.0.4\n"},
		{[]string{"targets", "remove", master, "10.1.1.1"}, 2, "pmonitor: remove targets in registry " + master + ": unknown target 10.1.1.1\n"},
		{[]string{"init", master, writeFile(t, dir, "bad.csv", "a,127.0.0.1\nb,ff02::1\n")}, 2,
			"pmonitor: " + filepath.Join(dir, "bad.csv") + ":2: address \"ff02::1\" is multicast, want a unicast address\n"},
		{[]string{"init", master, writeFile(t, dir, "obj.json", `{"name": "a", "address": "127.0.0.1"}`)}, 2,
			"pmonitor: " + filepath.Join(dir, "obj.json") + `:1: want a JSON array of {"name","address","stable"} objects` + "\n"},
	} {
		out, errs, code := run(t, s.args...)
		got := out
		if s.code != 0 {
			got = errs
		}
		if code != s.code || got != s.out {
			t.Errorf("pmonitor %q: exit %d\nstdout %q\nstderr %q\nwant exit %d and %q", s.args, code, out, errs, s.code, s.out)
		}
	}
}

// TestCommandLineSpellsRowsOfOtherPrograms: stop and remove find a row that
// another program wrote in a non-canonical spelling.
func TestCommandLineSpellsRowsOfOtherPrograms(t *testing.T) {
	master := filepath.Join(t.TempDir(), "master.db")
	storetest.CreateOriginal(t, master, `INSERT INTO targets(address, name) VALUES ('::ffff:10.0.0.1', 'a'), ('10.0.0.2', 'b')`)
	if out, errs, code := run(t, "stop", master, "10.0.0.1"); code != 0 {
		t.Errorf("stop 10.0.0.1 on a row spelled ::ffff:10.0.0.1: exit %d %s%s", code, out, errs)
	}
	if out, errs, code := run(t, "targets", "remove", master, "10.0.0.1"); code != 0 {
		t.Errorf("targets remove 10.0.0.1: exit %d %s%s", code, out, errs)
	}
}

// TestInitKeepsRunningAgents: 'init' while an agent runs keeps its running
// flag, pid and heartbeat.
func TestInitKeepsRunningAgents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	master := filepath.Join(dir, "master.db")
	file := writeFile(t, dir, "t.csv", "host1,127.0.0.1\nhost2,127.0.0.2\n")
	if _, errs, code := run(t, "init", master, file); code != 0 {
		t.Fatal(errs)
	}
	reg, err := store.OpenRegistry(ctx, master)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if err := reg.SetRunning(ctx, "127.0.0.1", true, os.Getpid(), time.Now()); err != nil {
		t.Fatal(err)
	}
	file = writeFile(t, dir, "t.csv", "host0,127.0.0.9\nhost1,127.0.0.1\n")
	if _, errs, code := run(t, "init", master, file); code != 0 {
		t.Fatal(errs)
	}
	out, _, _ := run(t, "agents", master)
	if !strings.Contains(out, "host1  127.0.0.1  yes  yes      "+strconv.Itoa(os.Getpid())) {
		t.Errorf("agents after init:\n%s\nwant host1 still running with pid %d", out, os.Getpid())
	}
}

// TestStatusBeforeTheAgentStarts: the orchestrator's mkstemp file (zero
// bytes) or a database without a targets table is "status 0 / 0".
func TestStatusBeforeTheAgentStarts(t *testing.T) {
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty.db", "")
	tableless := filepath.Join(dir, "tableless.db")
	storetest.PlainSQL(t, tableless, `CREATE TABLE other (x)`)
	for _, path := range []string{empty, tableless} {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"status", path}, "status 0 / 0\n"},
			{[]string{"status", "--stable", "--json", path}, "{\n  \"good\": 0,\n  \"total\": 0\n}\n"},
		} {
			out, errs, code := run(t, tc.args...)
			if code != 0 || out != tc.want {
				t.Errorf("pmonitor %v: exit %d, %q %q; want %q", tc.args, code, out, errs, tc.want)
			}
		}
	}
	if b, _ := os.ReadFile(empty); len(b) != 0 {
		t.Errorf("status wrote %d bytes into the empty file", len(b))
	}
}

// TestConsolidateNothingMerged: when every working database is skipped
// the outcome is negative: exit 1.
func TestConsolidateNothingMerged(t *testing.T) {
	dir := t.TempDir()
	master := filepath.Join(dir, "master.db")
	storetest.CreateOriginal(t, master, `INSERT INTO targets(address, name) VALUES ('10.0.0.1', 'a')`)
	bad := writeFile(t, dir, "bad.db", "not a database, not at all, not even close to one")
	out, errs, code := run(t, "consolidate", master, filepath.Join(dir, "out.db"), filepath.Join(dir, "gone.db"), bad)
	if code != 1 || !strings.HasSuffix(errs, "pmonitor: consolidate: no working database merged (2 skipped)\n") {
		t.Errorf("consolidate with only bad inputs: exit %d\n%s%s", code, out, errs)
	}
}
