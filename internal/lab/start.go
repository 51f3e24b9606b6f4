package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pmonitor/pmonitor/internal/emu"
	"github.com/pmonitor/pmonitor/internal/store"
)

// DefaultStartGap is the time between two agent starts when
// Config.StartSpread is 0 (and the interval is long enough): about what an
// agent's start costs in CPU (two program starts, its databases opened and
// filled) on one core.
const DefaultStartGap = 15 * time.Millisecond

// hostWorkers is how many hosts are built at once: the kernel builds
// namespaces in parallel, and each also waits on its own.
const hostWorkers = 4

func (l *Lab) start(ctx context.Context) error {
	if err := os.MkdirAll(l.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("create dir: %w", err)
	}
	if _, err := os.Stat(l.master); err == nil {
		return fmt.Errorf("%s exists: a lab needs a fresh directory", l.master)
	}
	t0 := time.Now()
	n, err := emu.New(ctx, emu.Options{Prefix: l.cfg.Prefix, Logger: l.log, BridgePorts: l.cfg.BridgePorts})
	if err != nil {
		return err
	}
	l.net = n
	if err := l.addHosts(ctx); err != nil {
		return err
	}
	t1 := time.Now()
	// A mesh of many hosts would overflow the kernel's shared ARP table.
	if err := n.PinNeighbors(ctx); err != nil {
		return err
	}
	t2 := time.Now()
	if err := l.writeRegistry(ctx); err != nil {
		return err
	}
	l.agents = newAgents(l.cfg)
	if len(l.agents) == 0 {
		return errors.New("no node runs an agent")
	}
	l.spawn = newSpawner()
	l.ready = newReadyGate(l.cfg.Dir, startingAgents())
	l.headroom = newHeadroom()
	t3 := time.Now()
	if err := l.startAgents(ctx); err != nil {
		return err
	}
	l.timings = Timings{Hosts: t1.Sub(t0), Neighbors: t2.Sub(t1), FirstAgent: t3, LastAgent: time.Now()}
	l.log.Debug("lab started", "prefix", n.Prefix(), "hosts", len(l.linkUp), "bridges", len(n.Bridges()), "agents", len(l.agents),
		"hosts_took", l.timings.Hosts, "pin_took", l.timings.Neighbors, "agents_took", l.timings.LastAgent.Sub(l.timings.FirstAgent))
	return nil
}

// Timings tells how long Start took, by step.
type Timings struct {
	Hosts     time.Duration // namespaces, veths and bridges
	Neighbors time.Duration // emu.Network.PinNeighbors
	// FirstAgent and LastAgent are when the first and the last agent
	// process started (StartSpread apart).
	FirstAgent, LastAgent time.Time
	// AgentsGone is how long the agents took to exit after Stop set
	// run = FALSE (the last one; those terminated included); zero before.
	AgentsGone time.Duration
}

// Timings returns how long Start took, by step, and Stop's agents.
func (l *Lab) Timings() Timings {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.timings
}

// Bridges returns the names of the emulated network's bridges.
func (l *Lab) Bridges() []string { return l.net.Bridges() }

// addHosts builds a host per node name, hostWorkers at a time.
func (l *Lab) addHosts(ctx context.Context) error {
	addrs := map[string][]netip.Prefix{}
	for _, nd := range l.cfg.Nodes {
		addrs[nd.Name] = append(addrs[nd.Name], nd.Addr)
	}
	names := l.HostNames()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(hostWorkers)
	for _, name := range names {
		g.Go(func() error {
			_, err := l.net.AddHost(gctx, name, addrs[name]...)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	l.mu.Lock()
	for _, name := range names {
		l.linkUp[name] = true
	}
	l.mu.Unlock()
	return nil
}

// quickStarts is how many agents start without looking at the machine's
// load (see headroom): a small lab starts at once, even on a busy machine.
func quickStarts() int { return 4 * runtime.GOMAXPROCS(0) }

// startAgents starts the agents in order, spread over Config.StartSpread,
// at most startingAgents at once and, beyond the first quickStarts, only
// while the machine has CPU to spare (headroom).
func (l *Lab) startAgents(ctx context.Context) error {
	spread := l.cfg.StartSpread
	if spread == 0 {
		spread = min(l.cfg.Interval/2, time.Duration(len(l.agents)-1)*DefaultStartGap)
	}
	first := time.Now()
	for i, a := range l.agents {
		if spread > 0 && i > 0 {
			at := first.Add(spread * time.Duration(i) / time.Duration(len(l.agents)-1))
			if err := sleepUntil(ctx, at); err != nil {
				return err
			}
		}
		if !l.ready.acquire(ctx.Done()) {
			return ctx.Err()
		}
		if i >= quickStarts() {
			if err := l.headroom.wait(ctx); err != nil {
				l.ready.release()
				return err
			}
		}
		if err := l.startAgent(a); err != nil {
			l.ready.release()
			return fmt.Errorf("start agent %s: %w", a.key, err)
		}
		l.ready.started(a.cmd.Process.Pid, a.done)
	}
	return nil
}

// sleepUntil waits until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// writeRegistry creates master.db with the nodes in order, all allowed to run.
func (l *Lab) writeRegistry(ctx context.Context) error {
	reg, err := store.CreateRegistry(ctx, l.master)
	if err != nil {
		return err
	}
	defer reg.Close()
	targets := make([]store.Target, len(l.cfg.Nodes))
	for i, n := range l.cfg.Nodes {
		targets[i] = store.Target{Address: n.Addr.Addr().String(), Name: n.Name, Stable: n.Stable, Run: true}
	}
	return reg.Replace(ctx, targets)
}
