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

// Small batches wait: a transaction costs about as much as a thousand
// samples, and a hundred agents on one machine each committing four times a
// second would spend more on commits than on probing.
const (
	flushBatch = 1024            // results that make a batch worth writing at the next tick
	flushLazy  = 2 * time.Second // how long a smaller batch may wait
)

// flushLoop writes the pending results: at the next Flush tick once
// flushBatch results wait, after at most flushLazy otherwise, and at once
// after a state change. It prunes the history once a minute.
func (a *Agent) flushLoop(ctx context.Context) error {
	tick := time.NewTicker(a.cfg.Flush)
	defer tick.Stop()
	lastPrune, lastFlush := a.cfg.Now(), a.cfg.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			a.mu.Lock()
			waiting := len(a.pending.Samples)
			a.mu.Unlock()
			if waiting < flushBatch && a.cfg.Now().Sub(lastFlush) < max(flushLazy, a.cfg.Flush) {
				continue
			}
		case <-a.kickFlush:
		}
		lastFlush = a.cfg.Now()
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
	b.Heartbeat = a.cfg.Now() // the me row's heartbeat rides along with every write
	start := time.Now()
	err := a.cfg.Working.Write(ctx, b)
	a.mu.Lock()
	defer a.mu.Unlock()
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
