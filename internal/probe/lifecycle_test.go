package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	errNoBufs     = syscall.ENOBUFS
	errNetUnreach = syscall.ENETUNREACH
	errPerm       = &net.OpError{Op: "listen", Net: "ip4:icmp", Err: os.NewSyscallError("socket", syscall.EPERM)}
	errAccess     = &net.OpError{Op: "listen", Net: "udp4", Err: os.NewSyscallError("socket", syscall.EACCES)}
)

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{PayloadSize: 8}, "probe config: payload size 8 too small: need at least 16 bytes for the probe token"},
		{Config{PayloadSize: 70000}, "probe config: payload size 70000 too large: at most 65507 bytes"},
		{Config{TTL: 256}, "probe config: ttl 256 out of range 0-255"},
		{Config{Gap: -time.Second}, "probe config: negative gap -1s"},
		{Config{Mode: 7}, "probe config: unknown socket mode 7"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			tc.cfg.Listener = &fakeListener{}
			e, err := New(context.Background(), tc.cfg)
			if err == nil {
				e.Close()
				t.Fatalf("New succeeded, want %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("New error = %q, want %q", err, tc.want)
			}
		})
	}
}

func TestOpenSockets(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mode     Mode
		source   netip.Addr
		fail     map[string]error
		wantErr  []string // substrings of New's error; nil: success
		wantNets []string // networks opened
	}{
		{name: "auto prefers raw", wantNets: []string{NetworkRaw4, NetworkRaw6}},
		{name: "auto falls back to datagram", fail: map[string]error{NetworkRaw4: errPerm, NetworkRaw6: errPerm},
			wantNets: []string{NetworkDgram4, NetworkDgram6}},
		{name: "no permission at all", fail: map[string]error{NetworkRaw4: errPerm, NetworkRaw6: errPerm,
			NetworkDgram4: errAccess, NetworkDgram6: errAccess},
			wantErr: []string{"no IPv4 ICMP socket", "operation not permitted", "permission denied", "CAP_NET_RAW", "net.ipv4.ping_group_range"}},
		{name: "raw mode does not fall back", mode: ModeRaw, fail: map[string]error{NetworkRaw4: errPerm, NetworkRaw6: errPerm},
			wantErr: []string{"open raw IPv4 ICMP socket", "CAP_NET_RAW"}},
		{name: "datagram mode", mode: ModeDatagram, wantNets: []string{NetworkDgram4, NetworkDgram6}},
		{name: "one family is enough", fail: map[string]error{NetworkRaw6: errors.New("address family not supported")},
			wantNets: []string{NetworkRaw4}},
		{name: "source family must open", source: local6, fail: map[string]error{NetworkRaw6: errors.New("cannot assign requested address")},
			wantErr: []string{"open raw IPv6 ICMP socket: cannot assign requested address"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &fakeListener{fail: tc.fail}
			e, err := New(context.Background(), Config{Mode: tc.mode, Source: tc.source, Listener: l})
			if tc.wantErr != nil {
				if err == nil {
					e.Close()
					t.Fatal("New succeeded, want an error")
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("New error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer e.Close()
			var got []string
			for _, n := range []string{NetworkRaw4, NetworkDgram4, NetworkRaw6, NetworkDgram6} {
				if l.conn(n) != nil {
					got = append(got, n)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantNets) {
				t.Errorf("opened %v, want %v", got, tc.wantNets)
			}
		})
	}
}

func TestSourceBinding(t *testing.T) {
	h := newHarness(t, Config{Source: local4})
	if a := h.conn(v4).local.(*net.IPAddr).IP.String(); a != "192.0.2.100" {
		t.Errorf("IPv4 socket bound to %s, want 192.0.2.100", a)
	}
	if a := h.conn(v6).local.(*net.IPAddr).IP.String(); a != "::" {
		t.Errorf("IPv6 socket bound to %s, want ::", a)
	}
}

func TestUnavailableFamily(t *testing.T) {
	l := &fakeListener{fail: map[string]error{NetworkRaw6: errors.New("address family not supported by protocol")}}
	h := newHarness(t, Config{Listener: l})
	err := h.e.Send(target6, time.Second, func(Result) {})
	want := "send probe to 2001:db8::1: open raw IPv6 ICMP socket: address family not supported by protocol"
	if err == nil || err.Error() != want {
		t.Errorf("Send IPv6 = %v, want %q", err, want)
	}
}

func TestCloseCancelsPending(t *testing.T) {
	// A long gap keeps the second probe queued behind the first.
	h := newHarness(t, Config{Gap: time.Hour})
	results := make(chan Result, 4)
	for _, a := range []netip.Addr{target4, target4} {
		if err := h.e.Send(a, time.Second, func(r Result) { results <- r }); err != nil {
			t.Fatal(err)
		}
	}
	h.conn(v4).next(t) // the first is in flight
	if err := h.e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if len(results) != 2 {
		t.Fatalf("%d results after Close, want 2", len(results))
	}
	var sent int
	for range 2 {
		r := <-results
		if r.Status != StatusCanceled || r.Reason != "probe engine closed" {
			t.Errorf("result = %v %q, want canceled", r.Status, r.Reason)
		}
		if !r.Sent.IsZero() {
			sent++
		}
	}
	if sent != 1 {
		t.Errorf("%d canceled probes have a send time, want 1 (the other was still queued)", sent)
	}
	if err := h.e.Send(target4, time.Second, func(Result) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	if err := h.e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// echoer answers every probe written to c, like a kernel would.
func echoer(t *testing.T, c *fakeConn, stop <-chan struct{}) {
	for {
		select {
		case p := <-c.sent:
			c.inject(replyTo(t, c.family(), p.b, nil), p.dst)
		case <-stop:
			return
		}
	}
}

func TestConcurrentSends(t *testing.T) {
	h := newHarness(t, Config{Now: time.Now})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, f := range []family{v4, v6} {
		wg.Go(func() { echoer(t, h.conn(f), stop) })
	}
	defer func() { close(stop); wg.Wait() }()

	const senders, perSender = 8, 500
	calls := make([]atomic.Int32, senders*perSender)
	var ok atomic.Int32
	var all sync.WaitGroup
	all.Add(senders * perSender)
	var sendWG sync.WaitGroup
	for g := range senders {
		sendWG.Go(func() {
			for i := range perSender {
				n := g*perSender + i
				target := netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)})
				if n%2 == 1 {
					target = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(n >> 8), 15: byte(n)})
				}
				err := h.e.Send(target, time.Minute, func(r Result) {
					if calls[n].Add(1) == 1 {
						if r.OK() && r.Target == target {
							ok.Add(1)
						}
						all.Done()
					}
				})
				if err != nil {
					t.Errorf("Send: %v", err)
					all.Done()
				}
			}
		})
	}
	sendWG.Wait()
	all.Wait()
	if n := ok.Load(); n != senders*perSender {
		t.Errorf("%d probes answered, want %d", n, senders*perSender)
	}
	h.e.Close()
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("probe %d: done called %d times", i, c)
		}
	}
	if s := h.e.Stats(); s.Replies != senders*perSender || s.Sent != senders*perSender {
		t.Errorf("stats = %+v, want %d sent and replies", s, senders*perSender)
	}
}
