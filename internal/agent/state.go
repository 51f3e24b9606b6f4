package agent

import (
	"net/netip"
	"sync"
	"time"

	"github.com/pmonitor/pmonitor/internal/probe"
	"github.com/pmonitor/pmonitor/internal/store"
)

// target is what the agent knows of one target between two writes. It
// mirrors the working database's row, loaded at start, so a restarted agent
// continues the counts and the counting rule. mu guards every field but
// addr.
type target struct {
	mu     sync.Mutex
	addr   netip.Addr
	name   string
	stable bool

	answered  bool      // has answered once: from then on every probe counts
	up        bool      // result of the last counted probe (responded)
	downSince time.Time // start of the current outage, if down
	lastProbe time.Time

	sent, received      uint64
	totalCount          uint64
	totalSuccess        uint64
	consecutiveFailures uint64
	rttLast             time.Duration
	rttMin, rttMax      time.Duration
	rttSum              time.Duration
	lastReason          string
	inFlight            int // probes sent whose result has not come back
}

// fromState restores a target from its working database row.
func fromState(addr netip.Addr, t store.Target, s store.TargetState) *target {
	tg := &target{addr: addr, name: t.Name, stable: t.Stable}
	if s.Address == "" {
		return tg
	}
	tg.answered = s.Answered()
	tg.up = s.Responded
	tg.sent, tg.received = uint64(s.Sent), uint64(s.Received)
	tg.totalCount, tg.totalSuccess = uint64(s.TotalCount), uint64(s.TotalSuccess)
	tg.consecutiveFailures = uint64(s.ConsecutiveFailures)
	if tg.answered && !tg.up {
		tg.downSince = s.StateChange
	}
	return tg
}

// record applies one probe result to the target following the counting
// rule and returns the sample to write, and an event if the target changed
// state.
func (t *target) record(r probe.Result, now time.Time) (store.Sample, *store.Event) {
	ok := r.OK()
	when := r.Sent
	if when.IsZero() {
		when = now
	}
	t.sent++
	s := store.Sample{Address: t.addr.String(), Time: when, Answered: ok}
	if ok {
		t.received++
		t.rttLast, t.rttSum = r.RTT, t.rttSum+r.RTT
		if t.rttMin == 0 || r.RTT < t.rttMin {
			t.rttMin = r.RTT
		}
		t.rttMax = max(t.rttMax, r.RTT)
		s.RTT = r.RTT
	}
	// With a timeout longer than the interval, a probe that timed out can
	// end after a newer one was answered. It still counts, but the state
	// (responded, events) follows the newest probe sent.
	if when.Before(t.lastProbe) {
		s.Stale = true
		if t.answered || ok {
			t.answered, s.Counted = true, true
			t.totalCount++
			if ok {
				t.totalSuccess++
			}
		}
		return s, nil
	}
	t.lastProbe = when
	if ok {
		t.consecutiveFailures = 0
	} else {
		t.consecutiveFailures++
		t.lastReason = r.Reason
	}
	if !ok && !t.answered {
		return s, nil // startup noise is not an outage
	}
	first := !t.answered
	t.answered = true
	s.Counted = true
	t.totalCount++
	if ok {
		t.totalSuccess++
	}
	var ev *store.Event
	switch {
	case first:
		ev = &store.Event{Time: now, Address: s.Address, Name: t.name, Up: true, First: true}
	case ok && !t.up:
		ev = &store.Event{Time: now, Address: s.Address, Name: t.name, Up: true}
		if !t.downSince.IsZero() {
			ev.Outage = now.Sub(t.downSince)
		}
		t.downSince = time.Time{}
	case !ok && t.up:
		ev = &store.Event{Time: now, Address: s.Address, Name: t.name, Up: false, Reason: r.Reason}
		t.downSince = when // the outage began at the latest when the failed probe left
	}
	t.up = ok
	s.StateChanged = ev != nil
	return s, ev
}
