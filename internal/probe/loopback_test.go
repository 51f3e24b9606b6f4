package probe

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

// Root tests on the loopback interface of the test's own namespace. Only
// 127.0.0.0/8 and ::1 are probed.

func newLoopbackEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	testenv.RequireRoot(t)
	e, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestLoopbackPing(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"raw", Config{Mode: ModeRaw}},
		{"ttl 1", Config{Mode: ModeRaw, TTL: 1}},
		{"large payload", Config{Mode: ModeRaw, PayloadSize: 1400}},
		{"source 127.0.0.2", Config{Mode: ModeRaw, Source: netip.MustParseAddr("127.0.0.2")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newLoopbackEngine(t, tc.cfg)
			for _, s := range []string{"127.0.0.1", "127.0.0.2", "127.200.3.4", "::1"} {
				r, err := e.Ping(context.Background(), netip.MustParseAddr(s), 2*time.Second)
				if err != nil {
					t.Fatalf("Ping %s: %v", s, err)
				}
				if !r.OK() || r.RTT <= 0 || r.RTT > time.Second {
					t.Errorf("Ping %s = %v, want a reply within 1s", s, r)
				}
			}
		})
	}
}

// pingAll probes targets through e and returns how many answered.
func pingAll(t *testing.T, e *Engine, targets []netip.Addr, timeout time.Duration) int {
	t.Helper()
	var (
		mu sync.Mutex
		ok int
		wg sync.WaitGroup
	)
	wg.Add(len(targets))
	for _, a := range targets {
		err := e.Send(a, timeout, func(r Result) {
			if r.OK() {
				mu.Lock()
				ok++
				mu.Unlock()
			}
			wg.Done()
		})
		if err != nil {
			t.Fatalf("Send %v: %v", a, err)
		}
	}
	wg.Wait()
	return ok
}

// loopbackTargets returns n distinct addresses in 127.0.0.0/8 starting at
// 127.first.0.1.
func loopbackTargets(n int, first byte) []netip.Addr {
	out := make([]netip.Addr, 0, n)
	for i := 0; len(out) < n; i++ {
		a := [4]byte{127, first + byte(i>>16), byte(i >> 8), byte(i)}
		if a[3] == 0 || a[3] == 255 {
			continue
		}
		out = append(out, netip.AddrFrom4(a))
	}
	return out
}

func TestLoopbackMany(t *testing.T) {
	e := newLoopbackEngine(t, Config{})
	targets := loopbackTargets(20000, 1)
	start := time.Now()
	if n := pingAll(t, e, targets, 5*time.Second); n != len(targets) {
		t.Errorf("%d of %d loopback targets answered; stats %+v", n, len(targets), e.Stats())
	}
	t.Logf("%d probes in %v; stats %+v", len(targets), time.Since(start), e.Stats())
}

// Two engines in one namespace see each other's replies on their raw
// sockets; each must count them as foreign and lose nothing.
func TestLoopbackTwoEngines(t *testing.T) {
	a := newLoopbackEngine(t, Config{})
	b := newLoopbackEngine(t, Config{})
	ta, tb := loopbackTargets(3000, 10), loopbackTargets(3000, 20)
	var wg sync.WaitGroup
	var na, nb int
	wg.Go(func() { na = pingAll(t, a, ta, 5*time.Second) })
	wg.Go(func() { nb = pingAll(t, b, tb, 5*time.Second) })
	wg.Wait()
	if na != len(ta) || nb != len(tb) {
		t.Errorf("answered %d/%d and %d/%d", na, len(ta), nb, len(tb))
	}
	if sa, sb := a.Stats(), b.Stats(); sa.Foreign == 0 || sb.Foreign == 0 {
		t.Errorf("foreign replies %d and %d, want both > 0 (raw sockets see all replies)", sa.Foreign, sb.Foreign)
	}
}

// An answered probe leaves no deadline armed: an idle agent's engine must
// not wake at the deadline of a probe that ended long before.
func TestLoopbackReplyDisarmsDeadline(t *testing.T) {
	e := newLoopbackEngine(t, Config{Mode: ModeRaw})
	for range 3 {
		var wg sync.WaitGroup
		for _, s := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
			wg.Add(1)
			if err := e.Send(netip.MustParseAddr(s), time.Hour, func(r Result) {
				if !r.OK() {
					t.Errorf("%s: %v %s", s, r.Status, r.Reason)
				}
				wg.Done()
			}); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
		e.mu.Lock()
		armed, left := e.armed, len(e.deadlines)
		e.mu.Unlock()
		if armed != maxDuration || left != 0 {
			t.Fatalf("after every reply: timer armed for %v, %d deadlines kept; want none", armed, left)
		}
	}
}
