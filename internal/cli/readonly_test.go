package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/store/storetest"
)

// snapshot is every file of dir with its bytes: what a read-only command
// must leave exactly as it found it.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func names(m map[string][]byte) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// TestReadOnlyCommandsNeverWrite: on databases made by another program
// (rollback journal, original columns only) the read-only commands write
// nothing: no migration, no WAL switch, no file created.
func TestReadOnlyCommandsNeverWrite(t *testing.T) {
	dir := t.TempDir()
	master := filepath.Join(dir, "master.db")
	work := filepath.Join(dir, "work.db")
	storetest.CreateOriginal(t, master, `INSERT INTO targets(address, name, running) VALUES ('10.0.0.1', 'me', TRUE), ('10.0.0.2', 'a', FALSE)`)
	storetest.CreateOriginal(t, work, `INSERT INTO targets(address, name, me) VALUES ('10.0.0.1', 'me', TRUE)`,
		`INSERT INTO targets(address, name, responded, sample_time, total_count, total_success) VALUES ('10.0.0.2', 'a', TRUE, 100, 3, 3)`)
	before := snapshot(t, dir)
	for _, args := range [][]string{
		{"targets", "list", master}, {"targets", "list", "--json", master}, {"agents", master}, {"agents", "--json", master},
		{"status", work}, {"list", work, "--all"}, {"last", work},
	} {
		out, errs, code := run(t, args...)
		if code != 0 {
			t.Errorf("pmonitor %v: exit %d\n%s%s", args, code, out, errs)
		}
		after := snapshot(t, dir)
		if strings.Join(names(after), " ") != strings.Join(names(before), " ") {
			t.Fatalf("pmonitor %v: files %v, before %v", args, names(after), names(before))
		}
		for name, b := range before {
			if !bytes.Equal(b, after[name]) {
				t.Fatalf("pmonitor %v changed %s", args, name)
			}
		}
	}
	out, _, _ := run(t, "agents", master)
	if !strings.Contains(out, "me    10.0.0.1  yes  yes      -    -") {
		t.Errorf("agents on an original registry:\n%s", out)
	}
}

// TestReadOnlyCommandsInReadOnlyDir: WAL databases in a directory the
// reader cannot write (README: reports work on read-only files). Root
// ignores permission bits, so as root the commands run as an unprivileged
// user (uid 65534) in a child process.
func TestReadOnlyCommandsInReadOnlyDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	master := filepath.Join(dir, "master.db")
	work := filepath.Join(dir, "work.db")
	reg, err := store.CreateRegistry(ctx, master)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Replace(ctx, []store.Target{{Address: "127.0.0.1", Name: "h1", Run: true}, {Address: "127.0.0.2", Name: "h2", Run: true}}); err != nil {
		t.Fatal(err)
	}
	reg.Close()
	w, err := store.OpenWorking(ctx, work)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := w.SetMe(ctx, "127.0.0.1", "h1", true, now); err != nil {
		t.Fatal(err)
	}
	if err := w.SyncTargets(ctx, []store.Target{{Address: "127.0.0.2", Name: "h2", Stable: true}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, store.Batch{Samples: []store.Sample{{Address: "127.0.0.2", Time: now, Answered: true, Counted: true}}}); err != nil {
		t.Fatal(err)
	}
	w.Close()

	runRO := readOnlyRunner(t, dir)
	before := snapshot(t, dir)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", work}, "status 1 / 1\n"},
		{[]string{"list", work}, "h2    127.0.0.2  yes"},
		{[]string{"last", work}, "h2    127.0.0.2  yes"},
		{[]string{"targets", "list", master}, "h2    127.0.0.2  no      yes"},
		{[]string{"agents", master}, "h2    127.0.0.2  yes"},
	} {
		out, errs, code := runRO(tc.args...)
		if code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("pmonitor %v in a read-only directory: exit %d\n%s%s\nwant %q", tc.args, code, out, errs, tc.want)
		}
	}
	after := snapshot(t, dir)
	if strings.Join(names(after), " ") != strings.Join(names(before), " ") {
		t.Errorf("files %v, before %v", names(after), names(before))
	}
}

// readOnlyRunner makes dir read-only for the commands it runs: chmod 0555,
// and as root a child process as uid 65534 (this test binary acts as
// pmonitor, see TestMain).
func readOnlyRunner(t *testing.T, dir string) func(args ...string) (string, string, int) {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if os.Geteuid() != 0 {
		return func(args ...string) (string, string, int) { return run(t, args...) }
	}
	// The child must be able to execute a copy of this binary.
	binDir := t.TempDir()
	for _, d := range []string{filepath.Dir(binDir), binDir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "pmonitor")
	copyFile(t, self, bin, 0o755)
	return func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Dir = "/"
		cmd.Env = append(os.Environ(), envAsPmonitor+"=1", "HOME=/")
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		if err != nil && code < 0 {
			t.Fatalf("run %v as uid 65534: %v", args, err)
		}
		return out.String(), errb.String(), code
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
