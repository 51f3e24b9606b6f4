package agent

import (
	"context"
	"net/netip"
	"time"

	"github.com/pmonitor/pmonitor/internal/probe"
)

// burstWindow groups the sends that fall due within it into one wakeup: a
// list of 10,000 targets per second costs 200 wakeups, not 10,000.
const burstWindow = 5 * time.Millisecond

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
		buf, next = a.pacer.due(now, burstWindow, buf[:0])
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
