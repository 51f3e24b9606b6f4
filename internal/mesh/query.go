package mesh

import (
	"context"
	"fmt"
	"math"
)

// DefaultWindow is the loss window when none is asked for: a minute, or
// five probe intervals if that is longer.
func (s *Service) DefaultWindow() float64 {
	return math.Max(60, 5*s.Interval())
}

// Mesh returns the mesh now (at < 0; a replay's "now" is the end of its
// history) or at time at, rebuilt from the history, with the loss over
// window seconds ending then (window <= 0: DefaultWindow).
func (s *Service) Mesh(ctx context.Context, at, window float64) (*Mesh, error) {
	if window <= 0 {
		window = s.DefaultWindow()
	}
	snap := s.Snapshot()
	if at < 0 && s.mode == ModeLive {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if window <= lossSpan-lossStep {
			return liveMesh(s.snap, s.book, window), nil
		}
		// A window longer than the counters remember: the samples say.
		m, err := historyMesh(ctx, snap, s.hist, snap.Time, window, s.interval)
		if err != nil {
			return nil, fmt.Errorf("mesh: %w", err)
		}
		live := liveMesh(s.snap, s.book, window)
		live.Loss, live.LossWindow = m.Loss, window
		return live, nil
	}
	if at < 0 {
		at = s.Extent().To
	}
	m, err := historyMesh(ctx, snap, s.hist, at, window, s.Interval())
	if err != nil {
		return nil, fmt.Errorf("mesh at %v: %w", at, err)
	}
	return m, nil
}

// Events returns the events selected by f (newest first), with the kind
// filter ("stable" or "dynamic"; "" for both) turned into target addresses.
func (s *Service) Events(ctx context.Context, f EventFilter, kind string) ([]Event, error) {
	snap := s.Snapshot()
	if kind != "" {
		f.Targets = []string{}
		for _, n := range snap.Nodes {
			if n.Stable == (kind == "stable") {
				f.Targets = append(f.Targets, n.Address)
			}
		}
	}
	evs, err := s.hist.Events(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	stable := stableOf(snap)
	for i := range evs {
		evs[i].Stable = stable(evs[i].TargetAddress)
	}
	if evs == nil {
		evs = []Event{}
	}
	return evs, nil
}

// SetRun sets the registry's run flag of the agent at address (false asks
// it to stop). Only a live source can.
func (s *Service) SetRun(ctx context.Context, address string, run bool) error {
	if s.live == nil {
		return ErrReadOnly
	}
	if _, ok := s.Snapshot().byAddr[address]; !ok {
		return fmt.Errorf("set run flag of %s: %w", address, ErrNotFound)
	}
	return s.live.SetRun(ctx, address, run)
}
