package agent

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/pmonitor/pmonitor/internal/probe"
	"github.com/pmonitor/pmonitor/internal/timerfd"
)

// burstWindow returns how far ahead of their time probes are sent, so that
// one wakeup sends several: up to 100 (10,000 targets a second cost 100
// wakeups, 10 ms bursts, not 10,000), within a tenth of the interval (99
// targets every 60 s cost one wakeup every 6 s, bursts of 10, not 1.65 a
// second). Each wakeup costs more than its probes: the timer, the sender,
// the receiver and the Go runtime's monitor thread all wake, and a
// thousand agents on one machine pay the scheduler's context switches for
// each. Bursts of 100 instead of 25 halved an agent's CPU per probe with
// 999 targets every 30 s (12–16 µs against 22–36 µs, loopback). A target
// is probed at most a tenth of the interval before its turn, never after
// it, so a failure is still seen within interval + timeout.
func burstWindow(gap, interval time.Duration) time.Duration {
	return min(max(250*time.Millisecond, interval/10), max(5*time.Millisecond, 100*gap))
}

// probeLoop sends each target's probe when the pacer says it is due.
// Its timer is a timerfd, not a Go timer: see package timerfd.
func (a *Agent) probeLoop(ctx context.Context) error {
	timer, err := timerfd.New()
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer timer.Close()
	due := timer.Chan()
	timer.Reset(0)
	var buf []netip.Addr
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-due:
		case <-a.kickProbe:
		}
		now := a.cfg.Now()
		a.pacerMu.Lock()
		var next time.Time
		buf, next = a.pacer.due(now, burstWindow(a.pacer.gap(), a.pacer.interval), buf[:0])
		a.pacerMu.Unlock()
		for _, addr := range buf {
			if ctx.Err() != nil {
				return nil // a long burst must not hold up a stop
			}
			if !a.claim(addr) {
				a.stats.skipped.Add(1)
				continue
			}
			if err := a.cfg.Prober.Send(addr, a.cfg.Timeout, a.onResult); err != nil {
				// The engine reports network failures through results;
				// an error here means it cannot take probes at all.
				a.onResult(probe.Result{Target: addr, Sent: now, Status: probe.StatusSendError, Reason: err.Error()})
				continue
			}
			a.stats.lastSend.Store(now.UnixNano())
		}
		timer.Reset(max(next.Sub(a.cfg.Now()), 0))
	}
}

// maxInFlight bounds the probes of one target waiting for their result, so
// that memory stays bounded whatever --timeout and --interval say: with a
// timeout longer than maxInFlight intervals, the sends in excess are
// skipped (pmonitor_probes_skipped_total) until a result comes back.
const maxInFlight = 4

// claim counts one more probe in flight to addr, or reports false when it
// has maxInFlight already.
func (a *Agent) claim(addr netip.Addr) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	t, ok := a.targets[addr]
	if !ok {
		return false // removed meanwhile
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inFlight >= maxInFlight {
		return false
	}
	t.inFlight++
	return true
}

// onResult records one probe result; it runs on the engine's goroutine and
// takes only the target's lock (and the list's read lock).
func (a *Agent) onResult(r probe.Result) {
	if r.Status == probe.StatusCanceled {
		return // the agent is stopping
	}
	now := a.cfg.Now()
	a.mu.RLock()
	t, ok := a.targets[r.Target.Unmap()]
	if !ok {
		a.mu.RUnlock()
		return // removed from the registry while the probe was in flight
	}
	t.mu.Lock()
	t.inFlight = max(t.inFlight-1, 0)
	if r.Status == probe.StatusLocalDrop {
		// This host dropped replies while the probe was out: the result says
		// nothing about the target, so it is not a sample at all.
		t.mu.Unlock()
		a.mu.RUnlock()
		a.stats.localDrops.Add(1)
		return
	}
	s, ev := t.record(r, now)
	t.mu.Unlock()
	a.mu.RUnlock()
	a.stats.sent.Add(1)
	if r.OK() {
		a.stats.answered.Add(1)
	} else {
		a.stats.failed.Add(1)
	}
	a.pendMu.Lock()
	a.pending.Samples = keepLast(append(a.pending.Samples, s), maxPendingSamples)
	if ev != nil {
		a.pending.Events = keepLast(append(a.pending.Events, *ev), maxPendingEvents)
	}
	a.noteResult(now)
	a.pendMu.Unlock()
	if ev != nil && ev.First {
		// Start-up, not news: one line when every target has answered,
		// and the rows go with the next batch. Logged and written at once,
		// a thousand first answers would cost a thousand lines and a
		// commit per burst on every agent of a starting mesh.
		a.log.Debug("target up", "target", ev.Address, "name", ev.Name, "first", true)
		a.stats.firstAnswers.Add(1)
		a.noteAllAnswered()
		return
	}
	if ev != nil {
		switch {
		case ev.Up && ev.Outage > 0:
			a.log.Info("target up", "target", ev.Address, "name", ev.Name, "outage", ev.Outage.Round(time.Millisecond))
		case ev.Up:
			a.log.Info("target up", "target", ev.Address, "name", ev.Name)
		default:
			a.log.Info("target down", "target", ev.Address, "name", ev.Name, "reason", ev.Reason)
		}
		select { // state changes reach the database without waiting a period
		case a.kickFlush <- struct{}{}:
		default:
		}
	}
}

// noteAllAnswered logs, once, the first time as many targets have answered
// as the list holds: the agent's picture is complete.
func (a *Agent) noteAllAnswered() {
	a.mu.RLock()
	n := len(a.targets)
	a.mu.RUnlock()
	if got := a.stats.firstAnswers.Load(); got >= int64(n) && n > 0 && a.stats.allAnswered.CompareAndSwap(false, true) {
		a.log.Info("every target answered", "targets", n, "after", time.Since(a.stats.started).Round(time.Millisecond))
		// The first complete picture is written at once (one commit per
		// agent), not up to half an interval later with the next batch.
		select {
		case a.kickFlush <- struct{}{}:
		default:
		}
	}
}
