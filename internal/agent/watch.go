package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/timerfd"
)

// errStopRequested ends the loops when the registry sets run = FALSE.
var errStopRequested = errors.New("stop requested by the registry")

// maxBackoff bounds the wait between two attempts to reach the registry.
const maxBackoff = 5 * time.Second

// maxBusyWait bounds the wait between two tries of a write that met a
// locked registry (twice that with the jitter).
const maxBusyWait = 15 * time.Second

// watcher follows the registry: target changes, the run flag, heartbeats.
// While the registry is missing, locked or unreadable the agent keeps
// probing the last known list and retries with backoff.
type watcher struct {
	a        *Agent
	reg      store.Registry // nil while unavailable
	register bool           // reg was (re)opened: set running once it answers
	backoff  time.Duration
	retryAt  time.Time
	nextHB   time.Time // when the next registry heartbeat is due
	lastLook time.Time // when the registry last answered Changed
	wake     registryWake
	// busyAt is when to try again after the registry was found locked by
	// other writers (zero otherwise); busySince is when that began. wrote
	// says the last poll made the writes it owed (a look between two
	// locked tries does not end the episode).
	busyAt, busySince time.Time
	wrote             bool
}

// loop looks at the registry whenever it announces a change, on the
// safety poll, and when a heartbeat or a retry is due (see registryWake).
func (w *watcher) loop(ctx context.Context) error {
	w.nextHB = heartbeatAt(w.a.cfg.Now(), w.a.cfg.Heartbeat, w.a.cfg.Self, w.a.applied.n+1)
	w.follow(w.reg)
	// A timerfd: every announced change moves the timer later, which would
	// leave a Go timer's old expiry to wake the agent for nothing.
	timer, err := timerfd.New()
	if err != nil {
		return fmt.Errorf("agent: registry watch: %w", err)
	}
	defer timer.Close()
	due := timer.Chan()
	// A first look at once: a change made after Run read the targets and
	// before the subscription would otherwise wait for the safety poll.
	timer.Reset(0)
	for {
		timed := false
		select {
		case <-ctx.Done():
			return nil
		case <-due:
			timed = true
		case <-w.wake.changes:
		}
		if err := w.poll(ctx, timed); err != nil {
			if errors.Is(err, errStopRequested) {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			if store.IsBusy(err) {
				w.busy(err)
			} else {
				w.fail(err)
			}
		} else if !w.busySince.IsZero() && w.wrote {
			w.busyAt, w.busySince = time.Time{}, time.Time{}
			w.recovered()
		}
		w.follow(w.reg)
		timer.Reset(w.nextWake(w.a.cfg.Now()))
	}
}

// justLooked is how recent a look at the registry makes another one
// needless when the registry announces changes: a change committed since
// is announced, and seen at once.
const justLooked = time.Second

// poll runs one watch step; an error means the registry is unavailable.
// A timed step (heartbeat, retry or safety poll) skips the look at the
// registry when it announces changes and was looked at within justLooked:
// the heartbeats of the agents fall in one window, so an agent's own
// heartbeat comes just after it looked at the others'.
func (w *watcher) poll(ctx context.Context, timed bool) error {
	a := w.a
	now := a.cfg.Now()
	if w.reg == nil {
		if now.Before(w.retryAt) {
			return nil
		}
		reg, err := a.cfg.OpenRegistry(ctx)
		if err != nil {
			return err
		}
		w.reg, w.register = reg, true
	}
	changed := false
	if !timed || w.register || w.wake.changes == nil || now.Sub(w.lastLook) >= justLooked {
		var err error
		if changed, err = w.reg.Changed(ctx); err != nil {
			return err
		}
		w.lastLook = now
		if w.busySince.IsZero() {
			w.recovered() // it answered: before acting on what it says
		} // else once the writes it owes go through, not between two locked tries
	}
	// After a lock, the writes this agent owes wait for their retry time:
	// a look announced meanwhile reads, it does not write.
	writes := w.busyAt.IsZero() || !now.Before(w.busyAt)
	w.wrote = false
	if w.register && writes {
		// A reopened registry (after an outage, or a start on the cached
		// list) has not seen this agent: set running again (in etcd, a new
		// lease) and re-read everything changed meanwhile.
		if err := w.reg.SetRunning(ctx, a.cfg.Self.String(), true, os.Getpid(), a.cfg.Now()); err != nil && !errors.Is(err, store.ErrUnknownTarget) {
			return err
		}
		w.register, changed = false, true
	}
	if changed {
		targets, err := w.reg.Targets(ctx)
		if err != nil {
			return err
		}
		if me, ok := find(targets, a.cfg.Self); ok && !me.Run {
			return errStopRequested
		}
		a.health.registryRead()
		if err := a.applyTargets(ctx, targets); err != nil {
			a.log.Warn("apply registry change", "err", err)
		}
	}
	if !now.Before(w.nextHB) && writes {
		if err := w.reg.Heartbeat(ctx, a.cfg.Self.String(), now); err != nil && !errors.Is(err, store.ErrUnknownTarget) {
			return err
		}
		w.nextHB = heartbeatAt(now, a.cfg.Heartbeat, a.cfg.Self, a.applied.n+1)
	}
	w.wrote = writes
	return nil
}

// fail drops the registry handle and schedules a retry; it logs once per
// outage, not once per attempt.
func (w *watcher) fail(err error) {
	a := w.a
	if w.reg != nil {
		w.reg.Close()
		w.reg = nil
	}
	w.backoff = min(max(2*w.backoff, a.cfg.Watch), maxBackoff)
	w.retryAt = a.cfg.Now().Add(w.backoff)
	a.stats.registryErrors.Add(1)
	if was := a.health.setRegistryErr(err.Error()); was == "" {
		a.log.Warn("registry unavailable; probing the last known targets", "err", err)
	}
}

// busy schedules another try, keeping the handle: a registry locked by
// other writers is alive, and reopening it would add a write (the running
// flag) and a full read to the contention. The first try comes within a
// second or two; the wait then grows with the episode (up to 30 s), since
// a lock held that long means the writers already crowd the registry. The
// try is jittered so that agents that met the same lock do not meet again.
func (w *watcher) busy(err error) {
	a := w.a
	now := a.cfg.Now()
	a.stats.registryErrors.Add(1)
	if w.busySince.IsZero() {
		w.busySince = now
	}
	wait := min(max(time.Second, now.Sub(w.busySince)), maxBusyWait)
	w.busyAt = now.Add(wait + rand.N(wait))
	// A mesh of agents sharing one file registry meets locks now and then;
	// only a lock held for Config.BusyGrace means someone holds it for good.
	if now.Sub(w.busySince) < a.cfg.BusyGrace {
		a.log.Debug("registry busy; trying again", "err", err, "at", w.busyAt)
		return
	}
	if was := a.health.setRegistryErr(err.Error()); was == "" {
		a.log.Warn("registry locked by another program; probing the last known targets", "err", err, "since", w.busySince)
	}
}

func (w *watcher) recovered() {
	a := w.a
	w.backoff = 0
	if was := a.health.setRegistryErr(""); was != "" {
		a.log.Info("registry available again")
	}
}

// openRegistry opens the registry for the first time, waiting with backoff
// while it is missing; it fails only when ctx ends.
func (a *Agent) openRegistry(ctx context.Context) (store.Registry, error) {
	backoff := a.cfg.Watch
	logged := false
	for {
		reg, err := a.cfg.OpenRegistry(ctx)
		if err == nil {
			a.health.setRegistryErr("")
			if logged {
				a.log.Info("registry available")
			}
			return reg, nil
		}
		// Not read yet: /healthz answers 503 with this reason meanwhile.
		a.health.setRegistryErr(err.Error())
		a.stats.registryErrors.Add(1)
		if !logged {
			a.log.Warn("registry unavailable; waiting for it", "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}
