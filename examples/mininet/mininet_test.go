// Package mininet_test runs the Mininet example (pmonitor_mesh.py) as CI's
// integration test of pmonitor under a real orchestrator-style driver.
package mininet_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

// runTimeout bounds one run of the script; a run takes 7-10 s, its phases
// wait at most phaseWait each.
const (
	runTimeout = 40 * time.Second
	phaseWait  = "10"
)

// TestMininetMesh proves that pmonitor works when driven the way the
// original tool's orchestrators drive it, on Debian's Mininet with Linux
// bridges and no controller: agents started with host.cmd('... &') in every
// host converge, every agent sees a cut host fail (counted with the
// orchestrator's SQL verbatim) and come back, every agent exits and clears
// running after UPDATE targets SET run = FALSE, consolidation merges every
// working database, and nothing is left in the root namespace afterwards.
// The second case feeds pmonitor a registry created with plain SQL and only
// the original columns, and zero-byte working databases.
//
// The root-namespace names (bridges "mt?????s<k>", ports "...-eth<n>") carry
// a random prefix, so the test runs alongside the emulator's tests ("pm...")
// and other Mininet runs (script default "mn...", hosts live in their own
// namespaces). It never runs 'mn -c' while things go well: that command
// kills every Mininet run and every "ping" process on the machine.
func TestMininetMesh(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "mn", "mininet")
	testenv.RequireCommand(t, "brctl", "bridge-utils")
	python := requireMininetPython(t)
	testenv.Short(t, "builds pmonitor and runs two Mininet networks (~20 s)")

	bin := filepath.Join(t.TempDir(), "pmonitor")
	bctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(bctx, "go", "build", "-o", bin, "github.com/pmonitor/pmonitor/cmd/pmonitor").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{
			name: "init",
			args: nil, // 6 hosts on 2 bridges, h6 unstable and cut
			want: []string{
				"PASS registry: 6 targets (pmonitor init targets.csv; unstable: h6)",
				"PASS converged: every agent sees 5/5 other hosts answer",
				"PASS cut h6: every other agent sees h6 fail (unstable: stable counts unchanged)",
				"PASS restored h6:",
				"PASS stopped: 6 agents exited",
				"PASS consolidated: analysis.db node_history has 30 rows from 6 agents",
			},
		},
		{
			name: "sql",
			args: []string{"--registry", "sql", "--empty-work-files", "--hosts", "4", "--switches", "1", "--unstable", "", "--cut", "h2"},
			want: []string{
				"PASS registry: 4 targets (created with plain SQL, original columns only; unstable: none)",
				"PASS converged: every agent sees 3/3 other hosts answer",
				"PASS cut h2: every other agent sees h2 fail (stable)",
				"PASS restored h2:",
				"PASS stopped: 4 agents exited",
				"PASS consolidated: analysis.db node_history has 12 rows from 4 agents",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := "mt" + randomName(5)
			work := filepath.Join(t.TempDir(), "run")
			start := time.Now()
			out, err := runMesh(t, python, bin, prefix, work, tc.args)
			t.Logf("pmonitor_mesh.py (%.1f s):\n%s", time.Since(start).Seconds(), out)
			left := leftovers(prefix, work)
			if err != nil || len(left) > 0 {
				cleanup(t, prefix, work)
			}
			if err != nil {
				t.Fatalf("pmonitor_mesh.py: %v", err)
			}
			for _, w := range append(tc.want, "PASS root namespace silent:", "PASS status list:", "PASS history:", "PASS cleanup:", "RESULT PASS") {
				if !strings.Contains(out, "\n"+w) {
					t.Errorf("output lacks %q", w)
				}
			}
			if strings.Contains(out, "\nFAIL ") {
				t.Error("output has FAIL lines")
			}
			if len(left) > 0 {
				t.Errorf("left behind after the run: %s", strings.Join(left, ", "))
			}
		})
	}
}

// runMesh runs the script and returns its combined output. On the deadline
// the script gets SIGTERM, on which it tears its network down; SIGKILL
// follows only if that takes too long.
func runMesh(t *testing.T, python, bin, prefix, work string, extra []string) (string, error) {
	ctx, cancel := context.WithTimeout(t.Context(), runTimeout)
	defer cancel()
	args := append([]string{"pmonitor_mesh.py", "--pmonitor", bin, "--workdir", work, "--prefix", prefix, "--wait", phaseWait}, extra...)
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("no result within %v: %w", runTimeout, ctx.Err())
	}
	return "\n" + string(out), err
}

// requireMininetPython returns a python3 that can import Mininet, or skips.
// Debian installs the module for /usr/bin/python3 only; a python3 from pyenv
// or a virtualenv earlier on PATH does not see it.
func requireMininetPython(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil {
			if exec.Command(path, "-c", "import mininet.net, mininet.nodelib").Run() == nil {
				return path
			}
		}
	}
	t.Skip("needs the mininet python module: run 'apt-get install mininet bridge-utils' (CI installs them)")
	return ""
}

// leftovers lists what a run may leave behind: root-namespace links with the
// run's prefix and processes whose command line names its work directory
// (the agents).
func leftovers(prefix, work string) []string {
	var left []string
	left = append(left, links(prefix)...)
	for _, pid := range pidsWith(work) {
		left = append(left, "pid "+strconv.Itoa(pid))
	}
	return left
}

// cleanup removes what a failed run left: its agents (by pid), then its
// links. 'mn -c' comes last and only if something is still there, because it
// also kills every other Mininet run and every "ping" on the machine.
func cleanup(t *testing.T, prefix, work string) {
	for _, pid := range pidsWith(work) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, l := range links(prefix) {
		_ = exec.Command("ip", "link", "del", l).Run()
	}
	time.Sleep(500 * time.Millisecond)
	if left := leftovers(prefix, work); len(left) > 0 {
		t.Logf("still left after cleanup: %s; running 'mn -c'", strings.Join(left, ", "))
		out, err := exec.Command("mn", "-c").CombinedOutput()
		t.Logf("mn -c: %v\n%s", err, out)
	}
}

// links returns the root-namespace links named like the script's bridges
// and ports for prefix: <prefix>s<k> and <prefix>s<k>-eth<n>.
func links(prefix string) []string {
	out, _ := exec.Command("ip", "-o", "link", "show").Output()
	re := regexp.MustCompile(`(?m)^\d+: (` + regexp.QuoteMeta(prefix) + `s\d+(?:-eth\d+)?)[:@]`)
	var names []string
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		names = append(names, m[1])
	}
	return names
}

// pidsWith returns the live processes whose command line contains s.
func pidsWith(s string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil || !strings.Contains(string(b), s) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(d))); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// randomName returns n random lowercase letters and digits.
func randomName(n int) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}
