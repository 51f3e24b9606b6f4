package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// agent is one 'pmonitor monitor' process.
type agent struct {
	node    Node
	key     string // file name part: the node name, or name-address if the name has several agents
	work    string // working database
	logPath string // stdout and stderr

	cmd  *exec.Cmd     // nil if never started
	done chan struct{} // closed when the process has exited (or never started)
	err  error         // cmd.Wait's result; read after done
}

// newAgents returns the agents of cfg's nodes, in order.
func newAgents(cfg Config) []*agent {
	perName := map[string]int{}
	for _, n := range cfg.Nodes {
		if n.Agent {
			perName[n.Name]++
		}
	}
	var out []*agent
	for _, n := range cfg.Nodes {
		if !n.Agent {
			continue
		}
		key := n.Name
		if perName[n.Name] > 1 {
			key += "-" + n.Addr.Addr().String()
		}
		out = append(out, &agent{
			node:    n,
			key:     key,
			work:    filepath.Join(cfg.Dir, "work-"+key+".db"),
			logPath: filepath.Join(cfg.Dir, "agent-"+key+".log"),
			done:    make(chan struct{}),
		})
	}
	return out
}

// exited reports whether the process has ended (or never started).
func (a *agent) exited() bool {
	if a.cmd == nil {
		return true
	}
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// signal sends sig to a running agent.
func (a *agent) signal(sig os.Signal) {
	if a.cmd != nil && !a.exited() {
		a.cmd.Process.Signal(sig)
	}
}

// wait blocks until the process has exited, at most d, and reports
// whether it has.
func (a *agent) wait(d time.Duration) bool {
	if a.exited() || d <= 0 {
		return a.exited()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-a.done:
		return true
	case <-t.C:
		return false
	}
}

// kill sends SIGKILL and waits for the process to end.
func (a *agent) kill() {
	a.signal(syscall.SIGKILL)
	if a.cmd != nil {
		<-a.done
	}
}

// failure describes an agent that exited on its own, with the end of its log.
func (a *agent) failure() error {
	return fmt.Errorf("agent %s (%s) exited: %v; log %s: %s", a.key, a.node.Addr.Addr(), a.err, a.logPath, logTail(a.logPath, 3))
}

// logTail returns the last n lines of the file at path, joined by " | ".
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// startAgent starts a's process inside its host's namespace, with output to
// its log file, and a goroutine that records its exit.
func (l *Lab) startAgent(a *agent) error {
	h := l.net.Host(a.node.Name)
	if h == nil {
		return fmt.Errorf("no host %s", a.node.Name)
	}
	logf, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open agent log: %w", err)
	}
	args := []string{"monitor", l.master, a.work, a.node.Addr.Addr().String(),
		"--interval", l.cfg.Interval.String(), "--timeout", l.cfg.Timeout.String()}
	args = append(args, l.cfg.AgentArgs...)
	// The lab stops its agents itself (run flag, then signals), so their
	// context never kills them; their own process group keeps a terminal's
	// Ctrl-C for the lab's owner, and Pdeathsig stops them if it dies.
	cmd := h.Command(context.Background(), l.cfg.Exe, args...)
	// Many agents share a few cores and each needs a fraction of one: a
	// single P spares them the thread hand-offs (20% of an idle agent's CPU).
	cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
	cmd.Env = append(cmd.Env, l.ready.env()...)
	cmd.Env = append(cmd.Env, l.cfg.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := l.spawn.run(cmd.Start); err != nil {
		logf.Close()
		return err
	}
	a.cmd = cmd
	go func() {
		a.err = cmd.Wait()
		logf.Close()
		close(a.done)
		l.log.Debug("agent exited", "agent", a.key, "err", a.err)
	}()
	l.log.Debug("agent started", "agent", a.key, "pid", cmd.Process.Pid, "netns", h.NetnsName())
	return nil
}

// spawner starts processes from one OS thread that lives as long as the
// lab. Pdeathsig fires when the thread that forked a child exits, not the
// process: forking from ordinary goroutines could kill agents whenever the
// runtime retires a thread, while this thread ends only with the lab's
// process (or after Close, when no agent is left).
type spawner struct {
	req  chan func()
	quit chan struct{}
	done chan struct{}
}

func newSpawner() *spawner {
	s := &spawner{req: make(chan func()), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(s.done)
		for {
			select {
			case fn := <-s.req:
				fn()
			case <-s.quit:
				return
			}
		}
	}()
	return s
}

// run calls fn on the spawner's thread and returns its error.
func (s *spawner) run(fn func() error) error {
	errc := make(chan error, 1)
	s.req <- func() { errc <- fn() }
	return <-errc
}

// close ends the spawner's goroutine; call it once, after the agents exited.
func (s *spawner) close() {
	close(s.quit)
	<-s.done
}
