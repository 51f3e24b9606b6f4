package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/pmonitor/pmonitor/internal/lab"
	"github.com/pmonitor/pmonitor/tools/internal/procstat"
)

// figures are what one run measured.
type figures struct {
	nodes, bridges int
	setup          lab.Timings
	slabKB         int64         // kernel memory the network took
	complete       time.Time     // first complete matrix
	window         time.Duration // CPU measurement
	user, system   time.Duration // all agents, in the window
	sent           int64         // probes, in the window
	busy, softirq  time.Duration // whole machine, in the window
	pssKB, rssKB   int64         // all agents
	agents         int
	cutLatency     []time.Duration // per agent that saw the cut, sorted
	stopTook       time.Duration   // run = FALSE to everything consolidated and torn down
	agentsGone     time.Duration   // run = FALSE to the last agent's exit
	left           []string        // the lab's objects still in the kernel
}

// mesh runs the agents' benchmark.
func mesh(ctx context.Context, c config) error {
	dir, cleanup, err := workDir(c.keep)
	if err != nil {
		return err
	}
	defer cleanup()
	bin, err := buildPmonitor(dir, c.agentTags)
	if err != nil {
		return err
	}
	nodes, err := lab.MeshNodes(subnet, c.nodes)
	if err != nil {
		return err
	}
	f := figures{nodes: c.nodes}
	warnInotify(c.nodes)
	slab0 := procstat.Meminfo("Slab")
	l, err := lab.Start(ctx, lab.Config{
		Dir: filepath.Join(dir, "lab"), Nodes: nodes, Interval: c.interval, Timeout: c.timeout, Exe: bin,
		BridgePorts: c.bridgePorts, StartSpread: c.spread,
		// Every agent's last batch, WAL checkpoint and registry write come
		// at once: a thousand of them took 20 s of two cores, at the edge of
		// the 10 ms a node allowed before.
		StopTimeout: 10*time.Second + time.Duration(c.nodes)*40*time.Millisecond,
	})
	if err != nil {
		return err
	}
	defer l.Close()
	f.setup, f.bridges, f.slabKB = l.Timings(), len(l.Bridges()), procstat.Meminfo("Slab")-slab0
	fmt.Printf("mesh: %d nodes, %d pairs, %d bridge(s), --interval %v --timeout %v; hosts %v, neighbours %v, agents started over %v\n",
		c.nodes, c.nodes*(c.nodes-1), f.bridges, c.interval, c.timeout, f.setup.Hosts.Round(time.Millisecond),
		f.setup.Neighbors.Round(time.Millisecond), f.setup.LastAgent.Sub(f.setup.FirstAgent).Round(time.Millisecond))
	fmt.Printf("agents' binary: go build -tags %q\n", c.agentTags)

	wctx, cancel := context.WithTimeout(ctx, 3*c.interval+30*time.Second)
	defer cancel()
	if f.complete, err = awaitComplete(wctx, l); err != nil {
		return fmt.Errorf("first complete matrix: %w", err)
	}
	if err := measureCPU(ctx, l, c.measure, &f); err != nil {
		return err
	}
	if c.cut {
		if f.cutLatency, err = cutOne(ctx, l, nodes[len(nodes)-1], c); err != nil {
			return err
		}
	}
	prefix := l.Prefix()
	stopAt := time.Now()
	if _, err := l.Stop(ctx); err != nil {
		return err
	}
	f.stopTook, f.agentsGone = time.Since(stopAt), l.Timings().AgentsGone
	if f.left, err = lab.Leftovers(prefix); err != nil {
		return err
	}
	f.print(c)
	return nil
}

// awaitComplete waits until every agent has had a first answer from every
// other node and returns when the last of those came (the agents' events).
func awaitComplete(ctx context.Context, l *lab.Lab) (time.Time, error) {
	for {
		start := time.Now()
		at, ok, err := l.CompleteAt(ctx)
		if err != nil || ok {
			return at, err
		}
		// Reading a thousand databases takes a while: at most half a core.
		if err := sleep(ctx, max(500*time.Millisecond, 2*time.Since(start))); err != nil {
			return time.Time{}, err
		}
	}
}

// measureCPU takes the agents' CPU time, the probes they sent and the
// machine's busy time over d, then their memory.
func measureCPU(ctx context.Context, l *lab.Lab, d time.Duration, f *figures) error {
	pids := l.AgentPIDs()
	f.agents = len(pids)
	sent0, err := l.Sent(ctx)
	if err != nil {
		return err
	}
	u0, s0 := totalCPU(pids)
	b0, si0 := procstat.Busy()
	w0 := time.Now()
	if err := sleep(ctx, d); err != nil {
		return err
	}
	u1, s1 := totalCPU(pids)
	b1, si1 := procstat.Busy()
	f.window = time.Since(w0)
	sent1, err := l.Sent(ctx)
	if err != nil {
		return err
	}
	f.user, f.system, f.sent = u1-u0, s1-s0, sent1-sent0
	f.busy, f.softirq = b1-b0, si1-si0
	for _, pid := range pids {
		f.pssKB += procstat.PSS(pid)
		f.rssKB += procstat.RSS(pid)
	}
	return nil
}

// cutOne cuts victim's link and returns, for every other agent, how long
// after the cut its down event about victim came.
func cutOne(ctx context.Context, l *lab.Lab, victim lab.Node, c config) ([]time.Duration, error) {
	cutAt := time.Now()
	if err := l.Cut(ctx, victim.Name); err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 2*(c.interval+c.timeout)+10*time.Second)
	defer cancel()
	seen := map[string]time.Duration{}
	for len(seen) < c.nodes-1 {
		start := time.Now()
		evs, err := l.Events(dctx, cutAt)
		if err != nil {
			return nil, fmt.Errorf("cut detection (%d of %d agents saw it): %w", len(seen), c.nodes-1, err)
		}
		for _, e := range evs {
			if _, done := seen[e.Agent]; !done && e.Address == victim.Addr.Addr().String() && !e.Up {
				seen[e.Agent] = e.Time.Sub(cutAt)
			}
		}
		if err := sleep(dctx, max(200*time.Millisecond, 2*time.Since(start))); err != nil && len(seen) < c.nodes-1 {
			return nil, fmt.Errorf("cut detection (%d of %d agents saw it): %w", len(seen), c.nodes-1, err)
		}
	}
	lat := make([]time.Duration, 0, len(seen))
	for _, d := range seen {
		lat = append(lat, d)
	}
	slices.Sort(lat)
	return lat, nil
}

// totalCPU sums the user and system CPU time of the processes.
func totalCPU(pids map[string]int) (user, system time.Duration) {
	for _, pid := range pids {
		u, s := procstat.CPU(pid)
		user, system = user+u, system+s
	}
	return user, system
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
