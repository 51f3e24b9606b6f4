package agent

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

func targets(addrs ...string) []store.Target {
	var ts []store.Target
	for i, a := range addrs {
		ts = append(ts, store.Target{Address: a, Name: fmt.Sprintf("n%d", i), Stable: true, Run: true})
	}
	return ts
}

func addrs(as ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range as {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestRotate(t *testing.T) {
	reg := targets("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4")
	for _, tc := range []struct {
		name string
		reg  []store.Target
		self string
		want []netip.Addr
		bad  []string
	}{
		{"first", reg, "10.0.0.1", addrs("10.0.0.2", "10.0.0.3", "10.0.0.4"), nil},
		{"middle wraps", reg, "10.0.0.3", addrs("10.0.0.4", "10.0.0.1", "10.0.0.2"), nil},
		{"last wraps", reg, "10.0.0.4", addrs("10.0.0.1", "10.0.0.2", "10.0.0.3"), nil},
		{"not in registry: registry order", reg, "10.9.9.9", addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"), nil},
		{"invalid row skipped", targets("10.0.0.1", "bogus", "10.0.0.3"), "10.0.0.1", addrs("10.0.0.3"), []string{"bogus"}},
		{"ipv6 and mapped", targets("::1", "::ffff:10.0.0.2", "10.0.0.3"), "10.0.0.2", addrs("10.0.0.3", "::1"), nil},
		{"empty", nil, "10.0.0.1", addrs(), nil},
		{"only self", targets("10.0.0.1"), "10.0.0.1", addrs(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, bad := rotate(tc.reg, netip.MustParseAddr(tc.self))
			if len(got) == 0 && len(tc.want) == 0 {
				got = tc.want
			}
			if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(bad, tc.bad) {
				t.Errorf("rotate = %v, bad %v; want %v, bad %v", got, bad, tc.want, tc.bad)
			}
		})
	}
}

func TestPacerSpreadsOneRoundPerInterval(t *testing.T) {
	p := pacer{interval: time.Second}
	order := addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4")
	p.setOrder(order)
	t0 := time.Unix(1000, 0)
	var sent []netip.Addr
	var when []time.Duration
	now := t0
	const round = 990 * time.Millisecond // a round takes 99 % of the interval (see gap)
	for now.Before(t0.Add(2 * round)) {
		batch, next := p.due(now, 0, nil)
		for range batch {
			when = append(when, now.Sub(t0))
		}
		sent = append(sent, batch...)
		now = next
	}
	// The first round goes at twice the pace (123.75 ms apart), then every
	// 247.5 ms: 4 + 6 probes in the first two rounds.
	if len(sent) != 10 {
		t.Fatalf("sent %d probes in 2 rounds, want 10", len(sent))
	}
	for i, a := range sent {
		if a != order[i%4] {
			t.Errorf("probe %d went to %v, want %v", i, a, order[i%4])
		}
		want := time.Duration(i) * round / 8
		if i >= 4 {
			want = round/2 + time.Duration(i-4)*round/4
		}
		if when[i] != want {
			t.Errorf("probe %d at %v, want %v (even spread)", i, when[i], want)
		}
	}
}

func TestPacerKeepsPlaceAcrossChanges(t *testing.T) {
	p := pacer{interval: time.Second}
	p.setOrder(addrs("10.0.0.1", "10.0.0.2", "10.0.0.3"))
	now := time.Unix(1000, 0)
	b, _ := p.due(now, 0, nil) // sends .1; .2 is next
	if len(b) != 1 || b[0] != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("first batch %v", b)
	}
	p.setOrder(addrs("10.0.0.9", "10.0.0.2", "10.0.0.3"))
	b, _ = p.due(now.Add(time.Second/3), 0, nil)
	if len(b) == 0 || b[0] != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("after a change the pacer went to %v, want 10.0.0.2 first", b)
	}
}

func TestPacerBurstWindowAndNoCatchUpStorm(t *testing.T) {
	p := pacer{interval: time.Second}
	var order []netip.Addr
	for i := 0; i < 1000; i++ {
		order = append(order, netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}))
	}
	p.setOrder(order)
	now := time.Unix(1000, 0)
	b, next := p.due(now, 5*time.Millisecond, nil)
	if len(b) != 7 { // 1,000 a second is above warmRate: the first round a fifth faster, due at 0, 0.792, ..., 4.752 ms
		t.Errorf("burst of %d, want 7", len(b))
	}
	if next.Sub(now) != 5*time.Millisecond { // the next send (due at 5.544 ms) goes at the start of its cell
		t.Errorf("next wakeup in %v, want 5ms", next.Sub(now))
	}
	// Asleep for a minute: at most one round goes out, not 60.
	b, _ = p.due(now.Add(time.Minute), 5*time.Millisecond, nil)
	if len(b) > 1000 || len(b) == 0 {
		t.Errorf("after a long sleep sent %d, want a normal burst", len(b))
	}
}

// TestPacerSendsEachTargetARoundApart: in bursts, every target goes out
// exactly one round (99 % of the interval) after its previous send, so a
// failure is seen within interval + timeout.
func TestPacerSendsEachTargetARoundApart(t *testing.T) {
	const interval = 30 * time.Second
	for _, n := range []int{999, 250, 7} {
		p := pacer{interval: interval}
		var order []netip.Addr
		for i := range n {
			order = append(order, netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}))
		}
		p.setOrder(order)
		round := p.gap() * time.Duration(n)
		t0 := time.Unix(1000, 0)
		last := map[netip.Addr]time.Time{}
		sends := map[netip.Addr]int{}
		now := t0
		for now.Before(t0.Add(4 * interval)) {
			batch, next := p.due(now, burstWindow(p.gap(), interval), nil)
			for _, a := range batch {
				if sends[a] >= 2 { // the first two sends straddle the faster first round
					if d := now.Sub(last[a]); d != round {
						t.Fatalf("%d targets: %v sent %v after its previous send, want a round, %v", n, a, d, round)
					}
				}
				last[a], sends[a] = now, sends[a]+1
			}
			if !next.After(now) {
				t.Fatalf("%d targets: next wakeup %v not after now %v", n, next, now)
			}
			now = next
		}
		if sends[order[0]] < 4 {
			t.Errorf("%d targets: %d sends to the first in 4 intervals, want at least 4", n, sends[order[0]])
		}
	}
}

func TestBurstWindow(t *testing.T) {
	for _, tc := range []struct{ gap, interval, want time.Duration }{
		{100 * time.Microsecond, time.Second, 10 * time.Millisecond}, // 10,000 targets a second
		{20 * time.Microsecond, time.Second, 5 * time.Millisecond},   // 50,000 targets a second
		{time.Millisecond, time.Second, 100 * time.Millisecond},
		{101 * time.Millisecond, 10 * time.Second, time.Second},                 // 99 targets every 10 s
		{40 * time.Millisecond, 10 * time.Second, time.Second},                  // 249 targets every 10 s
		{30 * time.Millisecond, 30 * time.Second, 3 * time.Second},              // 999 targets every 30 s
		{606 * time.Millisecond, 60 * time.Second, 6 * time.Second},             // 99 targets every 60 s
		{10 * time.Second, 10 * time.Second, time.Second},                       // one target
		{50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond}, // the shortest interval
	} {
		if got := burstWindow(tc.gap, tc.interval); got != tc.want {
			t.Errorf("burstWindow(%v, %v) = %v, want %v", tc.gap, tc.interval, got, tc.want)
		}
	}
}

func TestWarmGap(t *testing.T) {
	for _, tc := range []struct{ gap, want time.Duration }{
		{250 * time.Millisecond, 125 * time.Millisecond}, // 4 a second: twice the pace
		{100 * time.Millisecond, 50 * time.Millisecond},  // 10 a second: twice, up to warmRate
		{80 * time.Millisecond, 50 * time.Millisecond},   // 12.5 a second: sped up to warmRate
		{55 * time.Millisecond, 44 * time.Millisecond},   // 18 a second: a fifth faster, beyond warmRate
		{30 * time.Millisecond, 24 * time.Millisecond},   // 999 targets every 30 s: a fifth faster
		{time.Millisecond, 800 * time.Microsecond},
	} {
		if got := warmGap(tc.gap); got != tc.want {
			t.Errorf("warmGap(%v) = %v, want %v", tc.gap, got, tc.want)
		}
	}
}
