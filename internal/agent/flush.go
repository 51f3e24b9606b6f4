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
// second would spend more on commits than on probing. Nothing ticks: the
// flush timer is armed when the first result of a batch arrives (see
// noteResult) and otherwise only for the me row's heartbeat.
const (
	flushBatch     = 1024             // results that make a batch worth writing at once
	flushHeartbeat = 30 * time.Second // the me row's heartbeat when no result waits
	minTidy        = 30 * time.Second // Config.TidyEvery's least default, whatever the interval
)

// flushLoop writes the pending results: at once after a state change or
// once flushBatch results wait, Config.Flush after the first result of a
// smaller batch (with the next result, or a half period later when none
// comes), and an empty batch (the me row's heartbeat) when nothing was
// written for flushHeartbeat. It prunes the history at most once a
// minute, after a write.
//
// Its timer (a.flushTimer, signalling on due) is a timerfd: a write kicked
// by a result moves it later every time, which would leave a Go timer's
// old expiry to wake the agent for nothing.
func (a *Agent) flushLoop(ctx context.Context, due <-chan struct{}) error {
	lastPrune, lastTidy := a.cfg.Now(), a.cfg.Now()
	a.pendMu.Lock()
	a.armFlush(a.cfg.Now().Add(flushHeartbeat), 0)
	a.pendMu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-due:
		case <-a.kickFlush:
		}
		a.pendMu.Lock()
		a.flushDue = time.Time{} // writing now: the next result arms the timer again
		a.pendMu.Unlock()
		err := a.flush(ctx) // failures are logged by flush, once per change

		now := a.cfg.Now()
		if a.cfg.Retention > 0 && now.Sub(lastPrune) >= time.Minute {
			lastPrune = now
			if _, err := a.cfg.Working.Prune(ctx, now.Add(-a.cfg.Retention)); err != nil && ctx.Err() == nil {
				a.log.Warn("prune samples", "err", err)
			}
		}
		if a.cfg.Tidy != nil && err == nil && now.Sub(lastTidy) >= a.cfg.TidyEvery {
			lastTidy = now
			a.cfg.Tidy()
		}
		a.pendMu.Lock()
		if len(a.pending.Samples) > 0 || len(a.pending.Events) > 0 {
			a.armFlush(now.Add(a.cfg.Flush), a.cfg.Flush/2) // arrived meanwhile, or the write failed: retry
		} else {
			a.armFlush(now.Add(flushHeartbeat), 0)
		}
		a.pendMu.Unlock()
	}
}

// noteResult schedules the write of a result just added to the pending
// batch at now: at once when the batch is full or due, otherwise
// Config.Flush from now. Results arrive while the agent is awake anyway
// (a burst of probes), so a due batch is written then, without waking the
// agent on its own; the timer, set a half period later, is only the
// backstop for results that stop coming. a.pendMu is held.
func (a *Agent) noteResult(now time.Time) {
	if len(a.pending.Samples) >= flushBatch || (!a.flushDue.IsZero() && !now.Before(a.flushDue)) {
		select {
		case a.kickFlush <- struct{}{}:
		default:
		}
		return
	}
	a.armFlush(now.Add(a.cfg.Flush), a.cfg.Flush/2)
}

// armFlush makes the pending batch due at due, and the flush timer fire
// slack later at the latest. Resetting a timer needs no wakeup of the
// flush loop: an idle agent's loop sleeps until a batch is due.
// a.pendMu is held.
func (a *Agent) armFlush(due time.Time, slack time.Duration) {
	if !a.flushDue.IsZero() && !a.flushDue.After(due) {
		return // due earlier already
	}
	a.flushDue = due
	if a.flushTimer != nil { // nil outside Run
		a.flushTimer.Reset(max(due.Add(slack).Sub(a.cfg.Now()), 0))
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
