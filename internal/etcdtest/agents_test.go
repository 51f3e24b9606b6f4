package etcdtest_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/emu"
)

// event is one log line of an agent, stamped when the test read it.
type event struct {
	At      time.Time
	Msg     string
	Targets int
}

// agentProc is one 'pmonitor monitor' process inside an emulated host.
type agentProc struct {
	Addr, Dir, Work string
	host            *emu.Host
	args            []string

	mu     sync.Mutex
	cond   *sync.Cond
	events []event
	cmd    *exec.Cmd
	exited chan struct{}
}

func newAgentProc(h *emu.Host, addr, dir string, args []string) *agentProc {
	p := &agentProc{Addr: addr, Dir: dir, Work: filepath.Join(dir, "work.db"), host: h, args: args}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// start runs the agent; its JSON log is read into events. The caller
// kills it (kill) when its test ends.
func (p *agentProc) start(t *testing.T) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := p.host.Command(context.Background(), exe, append([]string{"monitor"}, p.args...)...)
	cmd.Env = append(cmd.Env, asPmonitor+"=1")
	// No Pdeathsig: it fires when the starting OS thread exits, and the
	// test's namespace work ends locked threads. t.Cleanup kills the agent.
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	logf, _ := os.OpenFile(filepath.Join(p.Dir, "agent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			now := time.Now()
			logf.Write(append(sc.Bytes(), '\n'))
			var l struct {
				Msg     string `json:"msg"`
				Targets int    `json:"targets"`
			}
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				p.mu.Lock()
				p.events = append(p.events, event{At: now, Msg: l.Msg, Targets: l.Targets})
				p.cond.Broadcast()
				p.mu.Unlock()
			}
		}
		cmd.Wait()
		logf.Close()
		close(exited)
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
}

func (p *agentProc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill()
		<-exited
	}
}

func (p *agentProc) alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.exited:
		return false
	default:
		return p.cmd != nil
	}
}

// await returns the first event at or after since that matches, waiting
// up to timeout for the agent to log it.
func (p *agentProc) await(since time.Time, timeout time.Duration, match func(event) bool) (event, bool) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for _, e := range p.events {
			if !e.At.Before(since) && match(e) {
				return e, true
			}
		}
		if time.Now().After(deadline) {
			return event{}, false
		}
		p.cond.Wait()
	}
}

// The agent's log messages about its registry (internal/agent/watch.go).
const (
	msgUnavailable = "registry unavailable; probing the last known targets"
	msgAvailable   = "registry available again"
)

func logged(msg string) func(event) bool {
	return func(e event) bool { return e.Msg == msg }
}

func applied(n int) func(event) bool {
	return func(e event) bool { return e.Msg == "targets applied" && e.Targets == n }
}

// probes returns the agent's counted probes so far (its working database).
func (p *agentProc) probes(t *testing.T) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+p.Work+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n sql.NullInt64
	db.QueryRow(`SELECT SUM(sent) FROM targets WHERE me = FALSE`).Scan(&n)
	return int(n.Int64)
}

// awaitProbing waits until the agent sent at least min more probes than
// it had when called: it keeps probing.
func (p *agentProc) awaitProbing(t *testing.T, more int, within time.Duration) {
	t.Helper()
	start := p.probes(t)
	deadline := time.Now().Add(within)
	for p.probes(t) < start+more {
		if time.Now().After(deadline) {
			t.Fatalf("agent %s: fewer than %d probes in %v (from %d to %d)", p.Addr, more, within, start, p.probes(t))
		}
		time.Sleep(100 * time.Millisecond) // another process's file: nothing to wait on
	}
}

// latencies measures how long after since every agent in ps logged a match.
func latencies(t *testing.T, ps []*agentProc, since time.Time, timeout time.Duration, match func(event) bool) []time.Duration {
	t.Helper()
	var ds []time.Duration
	for _, p := range ps {
		e, ok := p.await(since, timeout, match)
		if !ok {
			p.mu.Lock()
			if p.cmd != nil {
				p.cmd.Process.Signal(syscall.SIGQUIT) // its goroutines into the log
			}
			exited := p.exited
			p.mu.Unlock()
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
			}
			log, _ := os.ReadFile(filepath.Join(p.Dir, "agent.log"))
			if len(log) > 3000 {
				log = log[len(log)-3000:]
			}
			t.Fatalf("agent %s: no matching log line within %v; its log ends:\n%s", p.Addr, timeout, log)
		}
		ds = append(ds, e.At.Sub(since))
	}
	return ds
}

// quantile returns the q-quantile (nearest rank) of ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func figure(ds []time.Duration) string {
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", len(ds), quantile(ds, 0.5).Round(time.Millisecond),
		quantile(ds, 0.99).Round(time.Millisecond), quantile(ds, 1).Round(time.Millisecond))
}
