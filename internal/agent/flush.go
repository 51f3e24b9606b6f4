package agent

import (
	"context"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

// maxPendingSamples bounds the results kept in memory while the working
// database cannot be written (about 100 s of 10,000 targets per second);
// beyond it the oldest are dropped.
const maxPendingSamples = 1 << 20

// flushLoop writes the pending results every Flush period, at once after a
// state change, and prunes the history once a minute.
func (a *Agent) flushLoop(ctx context.Context) error {
	tick := time.NewTicker(a.cfg.Flush)
	defer tick.Stop()
	lastPrune := a.cfg.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-a.kickFlush:
		}
		if err := a.flush(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("write working db; will retry", "err", err)
		}
		if now := a.cfg.Now(); a.cfg.Retention > 0 && now.Sub(lastPrune) >= time.Minute {
			lastPrune = now
			if _, err := a.cfg.Working.Prune(ctx, now.Add(-a.cfg.Retention)); err != nil && ctx.Err() == nil {
				a.log.Warn("prune samples", "err", err)
			}
		}
	}
}

// flush writes the pending batch in one transaction. On failure the batch
// goes back in front of what arrived meanwhile, to be written next time.
func (a *Agent) flush(ctx context.Context) error {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	a.mu.Lock()
	b := a.pending
	a.pending = store.Batch{}
	a.mu.Unlock()
	b.History = a.cfg.Retention > 0
	if now := a.cfg.Now(); now.Sub(a.lastBeat) >= a.cfg.Heartbeat {
		b.Heartbeat, a.lastBeat = now, now
	}
	start := time.Now()
	err := a.cfg.Working.Write(ctx, b)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats.flushes++
	a.stats.lastFlush = time.Since(start)
	if err != nil {
		a.stats.flushErrors++
		a.pending.Samples = append(b.Samples, a.pending.Samples...)
		a.pending.Events = append(b.Events, a.pending.Events...)
		if n := len(a.pending.Samples); n > maxPendingSamples {
			a.pending.Samples = a.pending.Samples[n-maxPendingSamples:]
		}
	}
	return err
}
