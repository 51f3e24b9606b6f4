package agent

import (
	"context"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

// maxPendingSamples bounds the results kept in memory while the working
// database cannot be written (about 100 s of 10,000 targets per second);
// beyond it the oldest are dropped. maxPendingEvents does the same for
// up/down transitions.
const (
	maxPendingSamples = 1 << 20
	maxPendingEvents  = 1 << 16
)

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
			a.pendMu.Lock()
			waiting := len(a.pending.Samples)
			a.pendMu.Unlock()
			if waiting < flushBatch && a.cfg.Now().Sub(lastFlush) < max(flushLazy, a.cfg.Flush) {
				continue
			}
		case <-a.kickFlush:
		}
		lastFlush = a.cfg.Now()
		a.flush(ctx) // failures are logged by flush, once per change

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
// A failure is logged when it differs from the previous one (a full disk
// fails every batch the same way), and the recovery once.
func (a *Agent) flush(ctx context.Context) error {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	a.pendMu.Lock()
	b := a.pending
	a.pending = store.Batch{}
	a.pendMu.Unlock()
	b.History = a.cfg.Retention > 0
	b.Heartbeat = a.cfg.Now() // the me row's heartbeat rides along with every write
	start := a.cfg.Now()
	err := a.cfg.Working.Write(ctx, b)
	a.stats.lastFlush.Store(int64(a.cfg.Now().Sub(start)))
	if err == nil {
		if was := a.health.setWriteErr(""); was != "" {
			a.log.Info("working db writable again")
		}
		return nil
	}
	a.pendMu.Lock()
	a.pending.Samples = keepLast(append(b.Samples, a.pending.Samples...), maxPendingSamples)
	a.pending.Events = keepLast(append(b.Events, a.pending.Events...), maxPendingEvents)
	a.pendMu.Unlock()
	if ctx.Err() != nil {
		return err // stopping: the final write retries, not a database problem
	}
	a.stats.flushErrors.Add(1)
	if was := a.health.setWriteErr(err.Error()); was != err.Error() {
		a.log.Warn("write working db; will retry", "err", err)
	}
	return err
}

// keepLast returns the last n elements of s at most.
func keepLast[T any](s []T, n int) []T {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
