// Package etcdtest runs real etcd clusters for tests: every member is the
// Debian etcd-server binary (/usr/bin/etcd) in its own process, with its
// own data directory and loopback ports, so members can be killed with
// SIGKILL, stopped and restarted like on real machines.
package etcdtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

// Binary is the etcd server the harness runs (Debian package etcd-server).
const Binary = "etcd"

// Cluster is a set of etcd member processes forming one cluster.
type Cluster struct {
	t       testing.TB
	bin     string
	dir     string
	token   string
	Members []*Member

	// Command, when set, makes the Cmd that runs a member's command line
	// (for instance inside a network namespace: emu's Host.Command).
	Command func(m *Member, argv []string) *exec.Cmd

	// Dial, when set, opens the connections of the health checks (for
	// members in namespaces: from inside a namespace of the test's own).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Member is one etcd process.
type Member struct {
	Name      string
	DataDir   string
	ClientURL string // http://host:port
	PeerURL   string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Endpoint is the member's client address as host:port.
func (m *Member) Endpoint() string { return strings.TrimPrefix(m.ClientURL, "http://") }

// New prepares (without starting) a cluster of n members listening on
// loopback ports chosen now. It skips t when the etcd binary is missing.
func New(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := testenv.RequireCommand(t, Binary, "etcd-server")
	c := &Cluster{t: t, bin: bin, dir: t.TempDir(), token: fmt.Sprintf("pmonitor-test-%d", time.Now().UnixNano())}
	for i := range n {
		cp, pp := freePort(t), freePort(t)
		c.Members = append(c.Members, &Member{
			Name:      fmt.Sprintf("m%d", i),
			DataDir:   filepath.Join(c.dir, fmt.Sprintf("m%d", i)),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", cp),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", pp),
		})
	}
	t.Cleanup(c.Close)
	return c
}

// Start starts a new cluster of n members on loopback and waits until every
// member reports healthy.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	c := New(t, n)
	c.StartAll()
	return c
}

// SetAddresses moves member i to host (its client and peer ports kept);
// call it before StartAll, for members that live in namespaces.
func (c *Cluster) SetAddresses(i int, host string) {
	m := c.Members[i]
	m.ClientURL = "http://" + net.JoinHostPort(host, portOf(m.ClientURL))
	m.PeerURL = "http://" + net.JoinHostPort(host, portOf(m.PeerURL))
}

func portOf(u string) string {
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(u, "http://"))
	return p
}

// StartAll starts every member and waits until each is healthy.
func (c *Cluster) StartAll() {
	c.t.Helper()
	for i := range c.Members {
		c.spawn(i, "new")
	}
	for i := range c.Members {
		c.WaitHealthy(i, 30*time.Second)
	}
}

// Endpoints returns every member's host:port.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for _, m := range c.Members {
		eps = append(eps, m.Endpoint())
	}
	return eps
}

// URL is the registry URL of this cluster with the given key prefix.
func (c *Cluster) URL(prefix string) string {
	return "etcd://" + strings.Join(c.Endpoints(), ",") + "/" + strings.Trim(prefix, "/")
}

func (c *Cluster) initialCluster() string {
	var parts []string
	for _, m := range c.Members {
		parts = append(parts, m.Name+"="+m.PeerURL)
	}
	return strings.Join(parts, ",")
}

// spawn starts member i; state is "new" or "existing".
func (c *Cluster) spawn(i int, state string) {
	c.t.Helper()
	m := c.Members[i]
	argv := []string{c.bin,
		"--name", m.Name, "--data-dir", m.DataDir,
		"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL, "--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", c.initialCluster(), "--initial-cluster-state", state,
		"--initial-cluster-token", c.token,
		// Loopback latencies: elect a leader in a few hundred milliseconds.
		"--heartbeat-interval", "50", "--election-timeout", "500",
		"--logger", "zap", "--log-level", "error",
	}
	logf, err := os.OpenFile(filepath.Join(c.dir, m.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if c.Command != nil {
		cmd = c.Command(m, argv)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// No Pdeathsig: it fires when the OS thread that started the member
	// exits, which Go does with threads locked for namespace work. Close
	// (a t.Cleanup) kills the members.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("etcdtest: start %s: %v", m.Name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
}

// WaitHealthy waits until member i answers /health with "true".
func (c *Cluster) WaitHealthy(i int, timeout time.Duration) {
	c.t.Helper()
	m := c.Members[i]
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	if c.Dial != nil {
		hc.Transport = &http.Transport{DialContext: c.Dial, DisableKeepAlives: true}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", m.ClientURL+"/health", nil)
		if resp, err := hc.Do(req); err == nil {
			var b [256]byte
			n, _ := resp.Body.Read(b[:])
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(b[:n]), `"true"`) {
				return
			}
		}
		select {
		case <-ctx.Done():
			log, _ := os.ReadFile(filepath.Join(c.dir, m.Name+".log"))
			c.t.Fatalf("etcdtest: %s not healthy after %v; log:\n%s", m.Name, timeout, tail(string(log), 2000))
		case <-tick.C:
		}
	}
}

// Kill sends SIGKILL to member i and waits for it to exit.
func (c *Cluster) Kill(i int) { c.signal(i, syscall.SIGKILL) }

// Stop sends SIGTERM to member i and waits for it to exit.
func (c *Cluster) Stop(i int) { c.signal(i, syscall.SIGTERM) }

func (c *Cluster) signal(i int, sig syscall.Signal) {
	m := c.Members[i]
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Restart starts member i again on its data directory and waits until it
// is healthy (which needs a quorum of members running).
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.RestartNoWait(i)
	c.WaitHealthy(i, 30*time.Second)
}

// RestartNoWait starts member i again without waiting: restarting every
// member of a stopped cluster needs them all up before any is healthy.
func (c *Cluster) RestartNoWait(i int) {
	c.t.Helper()
	c.signal(i, syscall.SIGKILL) // if still running
	c.spawn(i, "existing")
}

// Running reports whether member i's process is up.
func (c *Cluster) Running(i int) bool {
	m := c.Members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cmd != nil
}

// PID returns member i's process id, 0 when it is not running.
func (c *Cluster) PID(i int) int {
	m := c.Members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Close kills every member.
func (c *Cluster) Close() {
	for i := range c.Members {
		c.signal(i, syscall.SIGKILL)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
