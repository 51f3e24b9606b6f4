package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pmonitor/pmonitor/tools/internal/procstat"
)

// fleet is the agent processes; each one's "targets applied" log lines
// are stamped when read.
type fleet struct {
	cmds []*exec.Cmd

	mu      sync.Mutex
	cond    *sync.Cond
	applied [][]stamp // per agent
}

type stamp struct {
	at      time.Time
	targets int
}

func startAgents(bin, spec, dir string, n int, interval time.Duration) (*fleet, error) {
	f := &fleet{applied: make([][]stamp, n)}
	f.cond = sync.NewCond(&f.mu)
	for i := range n {
		cmd := exec.Command(bin, "monitor", spec, filepath.Join(dir, fmt.Sprintf("work-%d.db", i)), agentAddr(i),
			"--interval", interval.String(), "--log-level", "debug", "--log-format", "json")
		pipe, err := cmd.StderrPipe()
		if err != nil {
			return f, err
		}
		if err := cmd.Start(); err != nil {
			f.stop()
			return nil, err
		}
		f.cmds = append(f.cmds, cmd)
		go f.read(i, pipe)
	}
	return f, nil
}

func (f *fleet) read(i int, pipe interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		now := time.Now()
		var l struct {
			Msg     string `json:"msg"`
			Targets int    `json:"targets"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "targets applied" {
			f.mu.Lock()
			f.applied[i] = append(f.applied[i], stamp{now, l.Targets})
			f.cond.Broadcast()
			f.mu.Unlock()
		}
	}
}

// latencies waits until every agent applied a list of want targets after
// since and returns how long after since each did.
func (f *fleet) latencies(since time.Time, want int, timeout time.Duration) ([]time.Duration, error) {
	deadline := time.Now().Add(timeout)
	t := time.AfterFunc(timeout, func() { f.mu.Lock(); f.cond.Broadcast(); f.mu.Unlock() })
	defer t.Stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		var ds []time.Duration
		for _, st := range f.applied {
			for _, s := range st {
				if !s.at.Before(since) && s.targets == want {
					ds = append(ds, s.at.Sub(since))
					break
				}
			}
		}
		if len(ds) == len(f.applied) {
			return ds, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d agents applied %d targets within %v", len(ds), len(f.applied), want, timeout)
		}
		f.cond.Wait()
	}
}

func (f *fleet) awaitAll(since time.Time, want int, timeout time.Duration) error {
	_, err := f.latencies(since, want, timeout)
	return err
}

func (f *fleet) cpu() time.Duration {
	var d time.Duration
	for _, c := range f.cmds {
		u, s := procstat.CPU(c.Process.Pid)
		d += u + s
	}
	return d
}

func (f *fleet) stop() {
	for _, c := range f.cmds {
		c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range f.cmds {
		c.Wait()
	}
}

// cluster is three etcd member processes on loopback ports.
type cluster struct {
	cmds    []*exec.Cmd
	clients []string
}

func startCluster(dir string) (*cluster, error) {
	c := &cluster{}
	var peers []string
	var ports [][2]int
	for i := range 3 {
		cp, pp := freePort(), freePort()
		ports = append(ports, [2]int{cp, pp})
		peers = append(peers, fmt.Sprintf("b%d=http://127.0.0.1:%d", i, pp))
		c.clients = append(c.clients, fmt.Sprintf("127.0.0.1:%d", cp))
	}
	for i, p := range ports {
		cu, pu := fmt.Sprintf("http://127.0.0.1:%d", p[0]), fmt.Sprintf("http://127.0.0.1:%d", p[1])
		cmd := exec.Command("etcd", "--name", fmt.Sprintf("b%d", i), "--data-dir", filepath.Join(dir, fmt.Sprint(i)),
			"--listen-client-urls", cu, "--advertise-client-urls", cu, "--listen-peer-urls", pu,
			"--initial-advertise-peer-urls", pu, "--initial-cluster", strings.Join(peers, ","),
			"--initial-cluster-state", "new", "--logger", "zap", "--log-level", "error")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			c.stop()
			return nil, fmt.Errorf("start etcd: %w", err)
		}
		c.cmds = append(c.cmds, cmd)
	}
	for _, ep := range c.clients {
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get("http://" + ep + "/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				c.stop()
				return nil, fmt.Errorf("etcd %s not healthy", ep)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c, nil
}

func (c *cluster) url(prefix string) string { return "etcd://" + strings.Join(c.clients, ",") + prefix }

func (c *cluster) pids() []int {
	var p []int
	for _, cmd := range c.cmds {
		p = append(p, cmd.Process.Pid)
	}
	return p
}

func (c *cluster) stop() {
	for _, cmd := range c.cmds {
		cmd.Process.Kill()
		cmd.Wait()
	}
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
