// Package meshtest builds deployments for tests and benchmarks of
// 'pmonitor serve' without agents or sockets: a registry and one working
// database per agent, written through internal/store exactly as agents
// write them (counting rule, samples, events), at times the caller picks.
package meshtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

// Sim is a simulated deployment: stable nodes sat1..satS and dynamic
// gs1..gsD, each with an agent probing every other node.
type Sim struct {
	Dir    string
	Master string
	Nodes  []store.Target
	Work   []string // working database of each node, aligned with Nodes
	// Down says whether a probe from node src to node dst fails in round
	// k; nil: every probe is answered.
	Down func(src, dst, k int) bool
	// RTT of an answered probe; nil: 0.1 ms plus 0.01 ms per target index.
	RTT func(src, dst, k int) time.Duration

	reg    *store.SQLiteRegistry
	work   []*store.Working
	state  [][]pairState
	rounds int
}

type pairState struct {
	answered, up bool
	downSince    time.Time
}

// Names returns the node names of a deployment of n nodes, dynamic of them
// ground stations.
func Names(n, dynamic int) []store.Target {
	var ts []store.Target
	for i := 1; i <= n-dynamic; i++ {
		ts = append(ts, store.Target{Name: fmt.Sprintf("sat%d", i), Address: fmt.Sprintf("10.77.%d.%d", i/250, i%250+1), Stable: true, Run: true})
	}
	for i := 1; i <= dynamic; i++ {
		ts = append(ts, store.Target{Name: fmt.Sprintf("gs%d", i), Address: fmt.Sprintf("10.78.%d.%d", i/250, i%250+1), Run: true})
	}
	return ts
}

// New creates the registry and the working databases in dir (which must
// not hold a master.db) and starts every agent at time start.
func New(ctx context.Context, dir string, n, dynamic int, start time.Time) (*Sim, error) {
	s := &Sim{Dir: dir, Master: filepath.Join(dir, "master.db"), Nodes: Names(n, dynamic)}
	if _, err := os.Stat(s.Master); err == nil {
		return nil, errors.New("meshtest: master.db exists")
	}
	reg, err := store.CreateRegistry(ctx, s.Master)
	if err != nil {
		return nil, err
	}
	s.reg = reg
	if err := reg.Replace(ctx, s.Nodes); err != nil {
		s.Close()
		return nil, err
	}
	for i, t := range s.Nodes {
		p := filepath.Join(dir, "work-"+t.Name+".db")
		w, err := store.OpenWorking(ctx, p)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Work, s.work = append(s.Work, p), append(s.work, w)
		if err := w.SetMe(ctx, t.Address, t.Name, t.Stable, start); err != nil {
			s.Close()
			return nil, err
		}
		var others []store.Target
		for j, o := range s.Nodes {
			if j != i {
				others = append(others, o)
			}
		}
		if err := w.SyncTargets(ctx, others); err != nil {
			s.Close()
			return nil, err
		}
		if err := reg.SetRunning(ctx, t.Address, true, 1000+i, start); err != nil {
			s.Close()
			return nil, err
		}
		if err := reg.Heartbeat(ctx, t.Address, start); err != nil { // not the wall clock: goldens stay fixed
			s.Close()
			return nil, err
		}
		s.state = append(s.state, make([]pairState, len(s.Nodes)))
	}
	return s, nil
}

// Registry returns the registry handle (to set flags as an orchestrator).
func (s *Sim) Registry() *store.SQLiteRegistry { return s.reg }

// Round probes every pair once at time now (each agent's probes spread
// over the following spread) and writes each agent's batch.
func (s *Sim) Round(ctx context.Context, now time.Time, spread time.Duration) error {
	k := s.rounds
	s.rounds++
	for i, w := range s.work {
		if w == nil {
			continue
		}
		b := store.Batch{History: true, Heartbeat: now.Add(spread)}
		step := spread / time.Duration(max(1, len(s.Nodes)))
		for j, t := range s.Nodes {
			if j == i {
				continue
			}
			when := now.Add(time.Duration(j) * step)
			ok := s.Down == nil || !s.Down(i, j, k)
			rtt := time.Duration(100+10*j) * time.Microsecond
			if s.RTT != nil {
				rtt = s.RTT(i, j, k)
			}
			sm, ev := s.state[i][j].record(t, when, ok, rtt)
			b.Samples = append(b.Samples, sm)
			if ev != nil {
				b.Events = append(b.Events, *ev)
			}
		}
		if err := w.Write(ctx, b); err != nil {
			return fmt.Errorf("meshtest: agent %s: %w", s.Nodes[i].Name, err)
		}
	}
	return nil
}

// record applies the agents' counting rule (internal/agent) to one result.
func (p *pairState) record(t store.Target, when time.Time, ok bool, rtt time.Duration) (store.Sample, *store.Event) {
	sm := store.Sample{Address: t.Address, Time: when, Answered: ok}
	if ok {
		sm.RTT = rtt
	}
	if !ok && !p.answered {
		return sm, nil
	}
	first := !p.answered
	p.answered, sm.Counted = true, true
	var ev *store.Event
	switch {
	case first:
		ev = &store.Event{Time: when, Address: t.Address, Name: t.Name, Up: true}
	case ok && !p.up:
		ev = &store.Event{Time: when, Address: t.Address, Name: t.Name, Up: true, Outage: when.Sub(p.downSince)}
	case !ok && p.up:
		ev = &store.Event{Time: when, Address: t.Address, Name: t.Name, Up: false, Reason: "timeout"}
		p.downSince = when
	}
	p.up = ok
	sm.StateChanged = ev != nil
	return sm, ev
}

// Stop stops agent i as a clean exit does: its working database says not
// running, the registry's running flag is cleared.
func (s *Sim) Stop(ctx context.Context, i int, now time.Time) error {
	if err := s.work[i].SetStopped(ctx, now); err != nil {
		return err
	}
	if err := s.reg.SetRunning(ctx, s.Nodes[i].Address, false, 1000+i, now); err != nil {
		return err
	}
	if err := s.reg.Heartbeat(ctx, s.Nodes[i].Address, now); err != nil {
		return err
	}
	err := s.work[i].Close()
	s.work[i] = nil
	return err
}

// Close closes every database.
func (s *Sim) Close() error {
	var errs []error
	for _, w := range s.work {
		if w != nil {
			errs = append(errs, w.Close())
		}
	}
	if s.reg != nil {
		errs = append(errs, s.reg.Close())
	}
	return errors.Join(errs...)
}
