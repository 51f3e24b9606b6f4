package agent_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pmonitor/pmonitor/internal/etcdtest"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// nobody is the unprivileged user the agent runs as here, as
// packaging/pmonitor-agent@.service runs it (DynamicUser, CAP_NET_RAW only).
const nobody = 65534

// TestAgentWithOnlyCapNetRaw runs the agent as an unprivileged uid whose
// only capability is an ambient CAP_NET_RAW: it opens raw ICMP sockets
// (not the datagram fallback), registers in etcd and probes loopback.
func TestAgentWithOnlyCapNetRaw(t *testing.T) {
	testenv.RequireRoot(t)
	c := etcdtest.Start(t, 1)
	master := c.URL("/caps")
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // t.TempDir's parent is 0700 too
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	csv := filepath.Join(dir, "t.csv")
	os.WriteFile(csv, []byte("self,127.0.0.1\nb,127.0.0.2\n"), 0o644)
	pmonitor(t, "init", master, csv)
	work := filepath.Join(dir, "work.db")

	// The test binary's own directory is private to root: run a copy.
	exe := filepath.Join(dir, "pmonitor")
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "monitor", master, work, "127.0.0.1", "--interval", "200ms", "--log-level", "debug")
	cmd.Env = append(os.Environ(), beMain+"=1")
	var logb testenv.SyncBuffer
	cmd.Stderr = &logb
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: nobody, Gid: nobody},
		AmbientCaps: []uintptr{unix.CAP_NET_RAW},
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", logb.String())
		}
	})
	agentRunning(t, master, "127.0.0.1", true, 10*time.Second) // before reading: the agent creates work.db
	awaitCount(t, work, `SELECT total_success FROM targets WHERE address = '127.0.0.2'`, 3)

	status, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Uid:\t65534", "CapEff:\t0000000000002000", "CapAmb:\t0000000000002000"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("agent process status lacks %q:\n%s", want, status)
		}
	}
	if strings.Contains(logb.String(), "using datagram ICMP socket") {
		t.Errorf("agent fell back to datagram ICMP sockets despite CAP_NET_RAW:\n%s", logb.String())
	}
}
