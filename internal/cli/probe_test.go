package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

// Usage errors are found before any socket is opened: no root needed.
func TestProbeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.txt", "# loopback\n127.0.0.1\n\n::1 # v6\n")
	bad := writeFile(t, dir, "bad.txt", "127.0.0.1\n300.1.1.1\n")
	host := writeFile(t, dir, "host.txt", "# names are not resolved\nlocalhost\n")
	dup := writeFile(t, dir, "dup.txt", "127.0.0.2\n127.0.0.1\n\n127.0.0.2\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe"}, "probe: no targets: give addresses or -f FILE (see 'pmonitor probe --help')"},
		{[]string{"probe", "-c", "0", "127.0.0.1"}, "probe: -c 0: need at least 1 probe"},
		{[]string{"probe", "127.0.0.1", "-t0"}, "probe: -t 0s: timeout must be positive"},
		{[]string{"probe", "-t", "soon", "127.0.0.1"}, `probe: invalid value "soon" for flag -t: invalid duration "soon" (see 'pmonitor probe --help')`},
		{[]string{"probe", "-i", "-1ms", "127.0.0.1"}, "probe: -i and -p must not be negative"},
		{[]string{"probe", "-S", "me", "127.0.0.1"}, `probe: -S "me": not an IP address`},
		{[]string{"probe", "example.com"}, `probe: argument 1: invalid address "example.com" (IP literal expected)`},
		{[]string{"probe", "127.0.0.1", "::ffff:127.0.0.1"}, `probe: argument 2: duplicate address "127.0.0.1" (first as argument 1)`},
		{[]string{"probe", "-f", bad}, fmt.Sprintf(`probe: %s: line 2: invalid address "300.1.1.1" (IP literal expected)`, bad)},
		{[]string{"probe", "-f", host}, fmt.Sprintf(`probe: %s: line 2: invalid address "localhost" (IP literal expected)`, host)},
		{[]string{"probe", "-f", dup}, fmt.Sprintf(`probe: %s: line 4: duplicate address "127.0.0.2" (first on line 1)`, dup)},
		{[]string{"probe", "::1", "-f", good}, fmt.Sprintf(`probe: %s: line 4: duplicate address "::1" (first as argument 1)`, good)},
		{[]string{"probe", "-f", filepath.Join(dir, "none.txt")}, "no such file or directory"},
		{[]string{"probe", "--jsn", "127.0.0.1"}, "probe: flag provided but not defined: -jsn (see 'pmonitor probe --help')"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errs, code := run(t, tc.args...)
			if code != 2 || out != "" || !strings.Contains(errs, tc.want) || strings.Count(errs, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line containing %q", code, out, errs, tc.want)
			}
		})
	}
}

// probeLine matches one per-target line of 'pmonitor probe'.
var probeLine = regexp.MustCompile(`^(\S+) +: xmt/rcv/%loss = (\d+)/(\d+)/(\d+)%(, min/avg/max = [0-9.]+/[0-9.]+/[0-9.]+| \(.+\))$`)

// checkProbeOutput checks the text output: one line per target in order,
// with sent/received counts, then the summary.
func checkProbeOutput(t *testing.T, out string, want [][3]string, summary string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(want)+1 {
		t.Fatalf("output has %d lines, want %d:\n%s", len(lines), len(want)+1, out)
	}
	for i, w := range want {
		m := probeLine.FindStringSubmatch(lines[i])
		if m == nil || m[1] != w[0] || m[2] != w[1] || m[3] != w[2] {
			t.Errorf("line %d = %q, want target %s with %s sent and %s received", i+1, lines[i], w[0], w[1], w[2])
		}
	}
	if s := lines[len(want)]; !strings.HasPrefix(s, summary) {
		t.Errorf("summary = %q, want prefix %q", s, summary)
	}
}

func TestProbeLoopback(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "targets.txt", "# loopback\n127.0.0.2\n\n::1 # v6\n")

	out, errs, code := run(t, "probe", "127.0.0.1", "-f", file, "-c2", "-p", "10ms")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q; want 0", code, errs)
	}
	checkProbeOutput(t, out, [][3]string{{"127.0.0.1", "2", "2"}, {"127.0.0.2", "2", "2"}, {"::1", "2", "2"}},
		"3 targets, 3 alive, 0 unreachable, elapsed ")

	out, errs, code = run(t, "probe", "--json", "-S", "127.0.0.1", "-t", "500", "127.0.0.3", "::1")
	if code != 0 || errs != "" {
		t.Fatalf("--json: exit %d, stderr %q; want 0", code, errs)
	}
	var doc probeJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json output is not one JSON document: %v\n%s", err, out)
	}
	if len(doc.Targets) != 2 || doc.Targets[0].Target != "127.0.0.3" || doc.Targets[1].Received != 1 ||
		doc.Targets[0].AvgMS <= 0 || doc.Summary != (probeSummaryJSON{Targets: 2, Alive: 2, ElapsedSeconds: doc.Summary.ElapsedSeconds}) {
		t.Errorf("unexpected --json document: %+v", doc)
	}
}

// TestProbeUnanswered runs the command on the calling thread moved into a
// fresh network namespace whose IPv4 stack ignores echo requests: 127.0.0.1
// times out, ::1 answers.
func TestProbeUnanswered(t *testing.T) {
	testenv.RequireRoot(t)
	type result struct {
		out, errs string
		code      int
		err       error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // unlocked only once back in the original namespace
		orig, err := netns.Get()
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		var r result
		r.err = setupQuietLoopback()
		if r.err == nil {
			r.out, r.errs, r.code = run(t, "probe", "-t", "200ms", "127.0.0.1", "::1")
		}
		if err := netns.Set(orig); err != nil {
			ch <- result{err: fmt.Errorf("return to original namespace: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- r
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.code != 1 || r.errs != "" {
		t.Errorf("exit %d, stderr %q; want 1 and no message", r.code, r.errs)
	}
	checkProbeOutput(t, r.out, [][3]string{{"127.0.0.1", "1", "0"}, {"::1", "1", "1"}}, "2 targets, 1 alive, 1 unreachable, elapsed ")
	if !strings.Contains(r.out, "127.0.0.1 : xmt/rcv/%loss = 1/0/100% (timeout after 200ms)\n") {
		t.Errorf("no timeout line for 127.0.0.1:\n%s", r.out)
	}
}

// setupQuietLoopback sets lo up in the current thread's namespace and makes
// IPv4 ignore echo requests there.
func setupQuietLoopback() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return os.WriteFile("/proc/sys/net/ipv4/icmp_echo_ignore_all", []byte("1"), 0o644)
}
