package probe

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/icmp"
)

// Addresses of the unit tests (documentation ranges; fake sockets only).
var (
	target4   = netip.MustParseAddr("192.0.2.1")
	target6   = netip.MustParseAddr("2001:db8::1")
	router4   = netip.MustParseAddr("198.51.100.1")
	router6   = netip.MustParseAddr("2001:db8:ff::1")
	local4    = netip.MustParseAddr("192.0.2.100")
	local6    = netip.MustParseAddr("2001:db8::100")
	sentinel4 = netip.MustParseAddr("192.0.2.250")
	sentinel6 = netip.MustParseAddr("2001:db8::fa")
)

// harness is an Engine on fake sockets and a fake clock.
type harness struct {
	t     *testing.T
	e     *Engine
	l     *fakeListener
	clock *fakeClock
	dgram bool
}

// newHarness starts an engine with cfg on fake sockets; cfg.Now nil means
// the fake clock.
func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, l: &fakeListener{port: 4242}, clock: newFakeClock(), dgram: cfg.Mode == ModeDatagram}
	if l, ok := cfg.Listener.(*fakeListener); ok {
		h.l = l
	}
	cfg.Listener = h.l
	if cfg.Now == nil {
		cfg.Now = h.clock.Now
	}
	e, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.e = e
	t.Cleanup(func() { e.Close() })
	return h
}

// conn is the fake socket probes of fam go through.
func (h *harness) conn(fam family) *fakeConn {
	nets := [2]string{NetworkRaw4, NetworkRaw6}
	if h.dgram {
		nets = [2]string{NetworkDgram4, NetworkDgram6}
	}
	return h.l.conn(nets[fam])
}

// send starts a probe and returns its result channel and the packet sent.
// The channel has room for a second (wrong) result.
func (h *harness) send(target netip.Addr, timeout time.Duration) (chan Result, sentPacket) {
	h.t.Helper()
	ch := make(chan Result, 2)
	if err := h.e.Send(target, timeout, func(r Result) { ch <- r }); err != nil {
		h.t.Fatalf("Send(%v): %v", target, err)
	}
	return ch, h.conn(familyOf(target)).next(h.t)
}

// expire moves the clock by d and lets the timer goroutine look.
func (h *harness) expire(d time.Duration) {
	h.clock.Advance(d)
	h.e.mu.Lock()
	h.e.timer.Reset(0) // fires at once: the timer goroutine sees the new time
	h.e.mu.Unlock()
}

// sync waits until the receiver of fam has processed everything injected
// so far: it answers a probe to a sentinel and waits for its result.
func (h *harness) sync(fam family) {
	h.t.Helper()
	s := map[family]netip.Addr{v4: sentinel4, v6: sentinel6}[fam]
	ch, req := h.send(s, time.Hour)
	h.conn(fam).inject(replyTo(h.t, fam, req.b, nil), s)
	if r := wait(h.t, ch); r.Status != StatusReply {
		h.t.Fatalf("sentinel probe: %v", r)
	}
}

// wait returns the next result from ch.
func wait(t testing.TB, ch <-chan Result) Result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no result within 10s")
		return Result{}
	}
}

func TestMatch(t *testing.T) {
	type pkt struct {
		b    []byte
		from netip.Addr
	}
	// respond builds the packets the fake network returns for request req.
	type respond func(t *testing.T, req []byte) []pkt
	reply := func(from netip.Addr, edit func(*icmp.Echo)) respond {
		return func(t *testing.T, req []byte) []pkt {
			return []pkt{{replyTo(t, familyOf(from), req, edit), from}}
		}
	}
	icmpErr := func(kind packetKind, code int, router, dst netip.Addr, quote int) respond {
		return func(t *testing.T, req []byte) []pkt {
			fam, src := familyOf(dst), local4
			if fam == v6 {
				src = local6
			}
			return []pkt{{icmpError(t, fam, kind, code, src, dst, req, quote), router}}
		}
	}
	twice := func(r respond) respond {
		return func(t *testing.T, req []byte) []pkt { return append(r(t, req), r(t, req)...) }
	}
	const timeout = time.Second
	for _, tc := range []struct {
		name       string
		target     netip.Addr
		advance    time.Duration // clock move before the response
		before     respond       // injected before the deadline
		expire     bool          // then move past the deadline and let the timer run
		after      respond       // injected after the result
		wantStatus Status
		wantReason string
		wantRTT    time.Duration
		want       Stats // Foreign, Late, Duplicates, Errors are compared
	}{
		{name: "v4 reply", target: target4, advance: 5 * time.Millisecond, before: reply(target4, nil),
			wantStatus: StatusReply, wantRTT: 5 * time.Millisecond},
		{name: "v6 reply", target: target6, advance: 7 * time.Millisecond, before: reply(target6, nil),
			wantStatus: StatusReply, wantRTT: 7 * time.Millisecond},
		{name: "v4 reply after IPv4 header", target: target4, before: func(t *testing.T, req []byte) []pkt {
			b := replyTo(t, v4, req, nil)
			return []pkt{{append(ipHeader(t, target4, local4, len(b)), b...), target4}}
		}, wantStatus: StatusReply},
		{name: "foreign identifier", target: target4, before: reply(target4, func(e *icmp.Echo) { e.ID++ }),
			expire: true, wantStatus: StatusTimeout, wantReason: "timeout after 1s", want: Stats{Foreign: 1}},
		{name: "foreign token", target: target4, before: reply(target4, func(e *icmp.Echo) { e.Data[0] ^= 1 }),
			expire: true, wantStatus: StatusTimeout, wantReason: "timeout after 1s", want: Stats{Foreign: 1}},
		{name: "unknown key", target: target6, before: reply(target6, func(e *icmp.Echo) { e.Data[12]++ }),
			expire: true, wantStatus: StatusTimeout, wantReason: "timeout after 1s", want: Stats{Foreign: 1}},
		{name: "wrong sequence", target: target4, before: reply(target4, func(e *icmp.Echo) { e.Seq++ }),
			expire: true, wantStatus: StatusTimeout, wantReason: "timeout after 1s", want: Stats{Foreign: 1}},
		{name: "payload without token", target: target4, before: reply(target4, func(e *icmp.Echo) { e.Data = e.Data[:8] }),
			expire: true, wantStatus: StatusTimeout, wantReason: "timeout after 1s", want: Stats{Foreign: 1}},
		{name: "reply from another address", target: target4, before: reply(router4, nil),
			expire: true, wantStatus: StatusTimeout, wantReason: "timeout after 1s", want: Stats{Foreign: 1}},
		{name: "own echo request ignored", target: target4, before: func(t *testing.T, req []byte) []pkt {
			return []pkt{{req, local4}, {replyTo(t, v4, req, nil), target4}}
		}, wantStatus: StatusReply},
		{name: "duplicate", target: target4, before: twice(reply(target4, nil)),
			wantStatus: StatusReply, want: Stats{Duplicates: 1}},
		{name: "timeout", target: target6, expire: true,
			wantStatus: StatusTimeout, wantReason: "timeout after 1s"},
		{name: "late after timeout", target: target4, expire: true, after: reply(target4, nil),
			wantStatus: StatusTimeout, wantReason: "timeout after 1s", want: Stats{Late: 1}},
		{name: "reply past deadline before the timer ran", target: target4, advance: timeout + time.Millisecond,
			before: reply(target4, nil), wantStatus: StatusTimeout, wantReason: "timeout after 1s", want: Stats{Late: 1}},
		{name: "v4 host unreachable", target: target4, before: icmpErr(kindUnreachable, 1, router4, target4, -1),
			wantStatus: StatusUnreachable, wantReason: "destination host unreachable from 198.51.100.1", want: Stats{Errors: 1}},
		{name: "v4 net unreachable quoting 8 bytes", target: target4, before: icmpErr(kindUnreachable, 0, router4, target4, 8),
			wantStatus: StatusUnreachable, wantReason: "destination net unreachable from 198.51.100.1", want: Stats{Errors: 1}},
		{name: "v4 TTL exceeded", target: target4, before: icmpErr(kindTimeExceeded, 0, router4, target4, -1),
			wantStatus: StatusTTLExceeded, wantReason: "TTL exceeded in transit from 198.51.100.1", want: Stats{Errors: 1}},
		{name: "v4 parameter problem", target: target4, before: icmpErr(kindParamProblem, 0, router4, target4, -1),
			wantStatus: StatusUnreachable, wantReason: "parameter problem (code 0) from 198.51.100.1", want: Stats{Errors: 1}},
		{name: "v6 address unreachable", target: target6, before: icmpErr(kindUnreachable, 3, router6, target6, -1),
			wantStatus: StatusUnreachable, wantReason: "destination address unreachable from 2001:db8:ff::1", want: Stats{Errors: 1}},
		{name: "v6 no route quoting 8 bytes", target: target6, before: icmpErr(kindUnreachable, 0, router6, target6, 8),
			wantStatus: StatusUnreachable, wantReason: "no route to destination from 2001:db8:ff::1", want: Stats{Errors: 1}},
		{name: "v6 hop limit exceeded", target: target6, before: icmpErr(kindTimeExceeded, 0, router6, target6, -1),
			wantStatus: StatusTTLExceeded, wantReason: "hop limit exceeded in transit from 2001:db8:ff::1", want: Stats{Errors: 1}},
		{name: "error about another destination", target: target4,
			before: icmpErr(kindUnreachable, 1, router4, netip.MustParseAddr("192.0.2.77"), -1),
			expire: true, wantStatus: StatusTimeout, wantReason: "timeout after 1s", want: Stats{Foreign: 1}},
		{name: "error after the deadline", target: target6, expire: true,
			after:      icmpErr(kindUnreachable, 3, router6, target6, -1),
			wantStatus: StatusTimeout, wantReason: "timeout after 1s", want: Stats{Late: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			fam := familyOf(tc.target)
			c := h.conn(fam)
			ch, req := h.send(tc.target, timeout)
			if req.dst != tc.target {
				t.Fatalf("probe sent to %v, want %v", req.dst, tc.target)
			}
			// The sentinel that marks the packets below as processed is sent
			// before they go in: sent after the probe ended, it could take
			// the probe's slot, and a duplicate read after that would count
			// as late.
			sentinel, sreq := h.send(map[family]netip.Addr{v4: sentinel4, v6: sentinel6}[fam], time.Hour)
			h.clock.Advance(tc.advance)
			if tc.before != nil {
				for _, p := range tc.before(t, req.b) {
					c.inject(p.b, p.from)
				}
			}
			c.inject(replyTo(t, fam, sreq.b, nil), sreq.dst)
			if r := wait(t, sentinel); r.Status != StatusReply {
				t.Fatalf("sentinel probe: %v", r)
			}
			if tc.expire {
				h.expire(timeout + time.Millisecond)
			}
			r := wait(t, ch)
			if tc.after != nil {
				for _, p := range tc.after(t, req.b) {
					c.inject(p.b, p.from)
				}
				h.sync(fam)
			}
			if r.Status != tc.wantStatus || r.Reason != tc.wantReason || r.Target != tc.target {
				t.Errorf("result = %v %v %q, want %v %v %q", r.Target, r.Status, r.Reason, tc.target, tc.wantStatus, tc.wantReason)
			}
			if tc.wantStatus == StatusReply && r.RTT != tc.wantRTT {
				t.Errorf("RTT = %v, want %v", r.RTT, tc.wantRTT)
			}
			if r.Sent.IsZero() {
				t.Errorf("Sent is zero")
			}
			got := h.e.Stats()
			got = Stats{Foreign: got.Foreign, Late: got.Late, Duplicates: got.Duplicates, Errors: got.Errors}
			if got != tc.want {
				t.Errorf("stats = %+v, want %+v", got, tc.want)
			}
			if len(ch) != 0 {
				t.Errorf("done called twice: second result %v", <-ch)
			}
		})
	}
}

func TestDatagramIdentifier(t *testing.T) {
	h := newHarness(t, Config{Mode: ModeDatagram})
	c := h.conn(v4)
	ch, req := h.send(target4, time.Second)
	if id := parseEcho(t, v4, req.b).ID; id != 4242 {
		t.Fatalf("echo identifier = %d, want the socket port 4242", id)
	}
	c.inject(replyTo(t, v4, req.b, func(e *icmp.Echo) { e.ID = 4243 }), target4)
	c.inject(replyTo(t, v4, req.b, nil), target4)
	if r := wait(t, ch); !r.OK() {
		t.Fatalf("result = %v, want reply", r)
	}
	if s := h.e.Stats(); s.Foreign != 1 || s.Replies != 1 {
		t.Errorf("stats = %+v, want 1 foreign and 1 reply", s)
	}
}

func TestSendErrors(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.conn(v4)

	c.failWrites(errNoBufs, errNoBufs) // transient: retried
	ch, req := h.send(target4, time.Second)
	c.inject(replyTo(t, v4, req.b, nil), target4)
	if r := wait(t, ch); !r.OK() {
		t.Fatalf("after ENOBUFS: %v, want reply", r)
	}

	c.failWrites(errNetUnreach)
	ch = make(chan Result, 2)
	if err := h.e.Send(target4, time.Second, func(r Result) { ch <- r }); err != nil {
		t.Fatal(err)
	}
	r := wait(t, ch)
	if r.Status != StatusSendError || r.Reason != "send: network is unreachable" {
		t.Errorf("result = %v %q, want send-error %q", r.Status, r.Reason, "send: network is unreachable")
	}
	if s := h.e.Stats(); s.SendErrors != 1 || s.Sent != 1 {
		t.Errorf("stats = %+v, want 1 sent and 1 send error", s)
	}
}

func TestSendRejects(t *testing.T) {
	h := newHarness(t, Config{})
	noop := func(Result) {}
	for _, tc := range []struct {
		name    string
		target  netip.Addr
		timeout time.Duration
		done    func(Result)
		want    string
	}{
		{"invalid target", netip.Addr{}, time.Second, noop, `send probe: invalid target "invalid IP"`},
		{"unspecified target", netip.IPv4Unspecified(), time.Second, noop, `send probe: invalid target "0.0.0.0"`},
		{"zero timeout", target4, 0, noop, "send probe to 192.0.2.1: timeout 0s not positive"},
		{"nil done", target4, time.Second, nil, "send probe to 192.0.2.1: nil done callback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := h.e.Send(tc.target, tc.timeout, tc.done)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Send error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPing(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.conn(v6)
	go func() {
		req := c.next(t)
		c.inject(replyTo(t, v6, req.b, nil), target6)
	}()
	r, err := h.e.Ping(context.Background(), target6, time.Second)
	if err != nil || !r.OK() {
		t.Fatalf("Ping = %v, %v; want a reply", r, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.e.Ping(ctx, target6, time.Second); err != context.Canceled {
		t.Errorf("Ping with canceled context: %v, want context.Canceled", err)
	}
}

func TestGap(t *testing.T) {
	const gap = 20 * time.Millisecond
	h := newHarness(t, Config{Gap: gap, Now: time.Now})
	c := h.conn(v4)
	for range 3 {
		if err := h.e.Send(target4, time.Minute, func(Result) {}); err != nil {
			t.Fatal(err)
		}
	}
	prev := c.next(t)
	for range 2 {
		p := c.next(t)
		if d := p.at.Sub(prev.at); d < gap-time.Millisecond {
			t.Errorf("sends %v apart, want at least %v", d, gap)
		}
		prev = p
	}
}
