package agent

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/probe"
)

func TestCountingRule(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ok := func(i int) probe.Result {
		return probe.Result{Status: probe.StatusReply, RTT: time.Millisecond, Sent: t0.Add(time.Duration(i) * time.Second)}
	}
	fail := func(i int) probe.Result {
		return probe.Result{Status: probe.StatusTimeout, Reason: "timeout after 3s", Sent: t0.Add(time.Duration(i) * time.Second)}
	}
	type want struct {
		counted, changed bool
		event            string // "", "up", "down"
		total, success   uint64
		up               bool
	}
	steps := []struct {
		r    probe.Result
		want want
	}{
		{fail(0), want{false, false, "", 0, 0, false}}, // startup noise: not counted
		{fail(1), want{false, false, "", 0, 0, false}},
		{ok(2), want{true, true, "up", 1, 1, true}}, // first answer counts
		{ok(3), want{true, false, "", 2, 2, true}},
		{fail(4), want{true, true, "down", 3, 2, false}}, // from now on failures count
		{fail(5), want{true, false, "", 4, 2, false}},
		{ok(6), want{true, true, "up", 5, 3, true}},
	}
	tg := &target{addr: netip.MustParseAddr("10.0.0.2"), name: "h2"}
	for i, st := range steps {
		s, ev := tg.record(st.r, st.r.Sent.Add(time.Millisecond))
		got := want{s.Counted, s.StateChanged, "", tg.totalCount, tg.totalSuccess, tg.up}
		if ev != nil {
			got.event = map[bool]string{true: "up", false: "down"}[ev.Up]
		}
		if got != st.want {
			t.Errorf("step %d (%v): got %+v, want %+v", i, st.r.Status, got, st.want)
		}
		if i == 6 && (ev == nil || ev.Outage != 2*time.Second+time.Millisecond) {
			t.Errorf("recovery event %+v, want an outage of 2.001s (from the first failed probe)", ev)
		}
	}
	if tg.sent != 7 || tg.received != 3 {
		t.Errorf("sent/received = %d/%d, want 7/3 (failures before the first answer are sent too)", tg.sent, tg.received)
	}
}

// TestStaleResult: with a timeout longer than the interval, a probe that
// times out after a newer probe was answered counts, but does not flip the
// target down.
func TestStaleResult(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tg := &target{addr: netip.MustParseAddr("10.0.0.2"), name: "h2"}
	tg.record(probe.Result{Status: probe.StatusReply, Sent: t0}, t0)
	// Probe sent at t0+1s times out at t0+4s; the probe sent at t0+2s was
	// answered at once.
	tg.record(probe.Result{Status: probe.StatusReply, Sent: t0.Add(2 * time.Second)}, t0.Add(2*time.Second))
	s, ev := tg.record(probe.Result{Status: probe.StatusTimeout, Sent: t0.Add(time.Second)}, t0.Add(4*time.Second))
	if ev != nil || !s.Stale || !s.Counted {
		t.Errorf("stale failure: sample %+v, event %+v; want a counted stale sample and no event", s, ev)
	}
	if !tg.up || tg.consecutiveFailures != 0 || tg.totalCount != 3 || tg.totalSuccess != 2 {
		t.Errorf("after a stale failure: up=%v failures=%d total=%d success=%d; want up, 0, 3, 2",
			tg.up, tg.consecutiveFailures, tg.totalCount, tg.totalSuccess)
	}
}
