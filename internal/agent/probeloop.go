package agent

import (
	"context"
	"net/netip"
	"time"

	"github.com/pmonitor/pmonitor/internal/probe"
)

// burstWindow returns how far ahead of their time probes are sent, so that
// one wakeup sends several: 10,000 targets a second cost 200 wakeups (5 ms
// bursts of 50), not 10,000; a hundred targets every 10 s cost 4 wakeups a
// second (250 ms bursts of 2 or 3), not 10. Every wakeup of an idle agent
// also wakes the Go runtime's monitor thread, which dominates its CPU time.
func burstWindow(gap time.Duration) time.Duration {
	return min(250*time.Millisecond, max(5*time.Millisecond, 25*gap))
}

// probeLoop sends each target's probe when the pacer says it is due.
func (a *Agent) probeLoop(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var buf []netip.Addr
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-a.kickProbe:
		}
		now := a.cfg.Now()
		a.mu.Lock()
		var next time.Time
		buf, next = a.pacer.due(now, burstWindow(a.pacer.gap()), buf[:0])
		a.mu.Unlock()
		for _, addr := range buf {
			if err := a.cfg.Prober.Send(addr, a.cfg.Timeout, a.onResult); err != nil {
				// The engine reports network failures through results;
				// an error here means it cannot take probes at all.
				a.onResult(probe.Result{Target: addr, Sent: now, Status: probe.StatusSendError, Reason: err.Error()})
			}
		}
		timer.Reset(max(next.Sub(a.cfg.Now()), 0))
	}
}

// onResult records one probe result; it runs on the engine's goroutine and
// only takes the agent's lock.
func (a *Agent) onResult(r probe.Result) {
	if r.Status == probe.StatusCanceled {
		return // the agent is stopping
	}
	now := a.cfg.Now()
	a.mu.Lock()
	t, ok := a.targets[r.Target.Unmap()]
	if !ok {
		a.mu.Unlock()
		return // removed from the registry while the probe was in flight
	}
	s, ev := t.record(r, now)
	a.stats.sent++
	if r.OK() {
		a.stats.answered++
	} else {
		a.stats.failed++
	}
	a.pending.Samples = append(a.pending.Samples, s)
	if ev != nil {
		a.pending.Events = append(a.pending.Events, *ev)
	}
	a.mu.Unlock()
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
