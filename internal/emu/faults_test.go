package emu

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestSetLink(t *testing.T) {
	t.Parallel()
	requirePing(t)
	n := newForTest(t, Options{})
	hosts := addHosts(t, n, "a=10.251.33.1/24", "b=10.251.44.2/24")
	a, b := hosts[0], hosts[1]
	addrA, addrB := a.Addrs()[0].Addr(), b.Addrs()[0].Addr()
	if err := ping(t.Context(), b, addrA); err != nil {
		t.Fatal(err)
	}

	if err := a.SetLink(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "eth0 of a loses carrier", func() error {
		return a.Do(func() error {
			l, err := netlink.LinkByName(hostIfName)
			if err == nil && l.Attrs().OperState != netlink.OperLowerLayerDown && l.Attrs().OperState != netlink.OperDown {
				err = fmt.Errorf("oper state %s", l.Attrs().OperState)
			}
			return err
		})
	})
	if err := ping(t.Context(), b, addrA); err == nil {
		t.Errorf("b reaches a with a's link down")
	}
	if err := ping(t.Context(), a, addrB); err == nil {
		t.Errorf("a reaches b with a's link down")
	}

	if err := a.SetLink(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "b reaches a again", func() error { return ping(t.Context(), b, addrA) })
	if err := ping(t.Context(), a, addrB); err != nil {
		t.Error(err)
	}
}

// udpEnd is a UDP socket opened inside a host.
type udpEnd struct {
	host *Host
	conn *net.UDPConn
	addr netip.AddrPort
}

func listenUDP(t *testing.T, h *Host, ip netip.Addr) *udpEnd {
	t.Helper()
	var c *net.UDPConn
	err := h.Do(func() (err error) {
		c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpEnd{host: h, conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}
}

// received reports whether msg arrives at e within timeout.
func (e *udpEnd) received(msg []byte, timeout time.Duration) bool {
	buf := make([]byte, 1500)
	e.conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		n, _, err := e.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return false
		}
		if bytes.Equal(buf[:n], msg) {
			return true
		}
	}
}

// queued reports whether a datagram waits in e's receive queue, without
// waiting or consuming it.
func (e *udpEnd) queued(t *testing.T) bool {
	t.Helper()
	e.conn.SetReadDeadline(time.Time{}) // an expired deadline fails rc.Read
	rc, err := e.conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), make([]byte, 1), unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if errors.Is(rerr, unix.EAGAIN) {
		return false
	}
	if rerr != nil {
		t.Fatal(rerr)
	}
	return n >= 0
}

// check sends a datagram from one socket to another. If delivered is
// true it must arrive; else the drop rules of dropper must count it
// (deterministic: counted means dropped) and it must not be queued.
func check(t *testing.T, from, to *udpEnd, dropper *Host, delivered bool) {
	t.Helper()
	before, err := dropper.Dropped(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	msg := fmt.Appendf(nil, "%s %s->%s", t.Name(), from.addr, to.addr)
	if _, err := from.conn.WriteToUDPAddrPort(msg, to.addr); err != nil {
		t.Fatalf("send %s -> %s: %v", from.addr, to.addr, err)
	}
	if delivered {
		if !to.received(msg, 3*time.Second) {
			t.Errorf("%s -> %s: not delivered", from.addr, to.addr)
		}
		return
	}
	eventually(t, 3*time.Second, fmt.Sprintf("%s -> %s counted as dropped by %s", from.addr, to.addr, dropper.Name()), func() error {
		got, err := dropper.Dropped(t.Context())
		if err == nil && got <= before {
			err = fmt.Errorf("drop counter %d", got)
		}
		return err
	})
	if to.queued(t) {
		t.Errorf("%s -> %s: delivered despite drop", from.addr, to.addr)
	}
}

func TestDrop(t *testing.T) {
	t.Parallel()
	n := newForTest(t, Options{})
	hosts := addHosts(t, n, "a=10.251.33.1/24", "b=10.251.44.2/24", "c=10.251.55.3/24")
	a, b, c := hosts[0], hosts[1], hosts[2]
	addr := func(h *Host) netip.Addr { return h.Addrs()[0].Addr() }
	ua, ua2, ub, uc := listenUDP(t, a, addr(a)), listenUDP(t, a, addr(a)), listenUDP(t, b, addr(b)), listenUDP(t, c, addr(c))
	for _, tc := range []struct {
		name           string
		dir            Direction
		peers          []netip.Addr
		ab, ba, ca, aa bool // delivered?
		wantDropsOnA   uint64
	}{
		{"ingress from b", Ingress, []netip.Addr{addr(b)}, true, false, true, true, 1},
		{"egress to b", Egress, []netip.Addr{addr(b)}, false, true, true, true, 1},
		{"both with b", Both, []netip.Addr{addr(b)}, false, false, true, true, 2},
		{"ingress from b and c", Ingress, []netip.Addr{addr(b), addr(c)}, true, false, false, true, 2},
		{"ingress all", Ingress, nil, true, false, false, true, 2},
		{"egress all", Egress, nil, false, true, true, true, 1},
		{"both all", Both, nil, false, false, false, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := a.ClearDrops(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := a.Drop(t.Context(), tc.dir, tc.peers...); err != nil {
				t.Fatal(err)
			}
			check(t, ua, ub, a, tc.ab)
			check(t, ub, ua, a, tc.ba)
			check(t, uc, ua, a, tc.ca)
			check(t, ua, ua2, a, tc.aa) // own address: via loopback
			if got, err := a.Dropped(t.Context()); err != nil || got != tc.wantDropsOnA {
				rules, _ := a.Command(t.Context(), "nft", "list", "table", "netdev", nftTableName).CombinedOutput()
				t.Errorf("Dropped() = %d, %v; want %d\n%s", got, err, tc.wantDropsOnA, rules)
			}
		})
	}
	if err := a.ClearDrops(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Dropped(t.Context()); err != nil || got != 0 {
		t.Errorf("Dropped() after ClearDrops = %d, %v; want 0", got, err)
	}
	check(t, ub, ua, a, true)
	check(t, ua, ub, a, true)
	if err := a.Drop(t.Context(), Direction(0)); err == nil {
		t.Errorf("Drop with invalid direction: no error")
	}
}

func TestDropIPv6(t *testing.T) {
	t.Parallel()
	n := newForTest(t, Options{})
	hosts := addHosts(t, n, "a=fd51:251::1/64", "b=fd52:251::2/64")
	a, b := hosts[0], hosts[1]
	ua, ub := listenUDP(t, a, a.Addrs()[0].Addr()), listenUDP(t, b, b.Addrs()[0].Addr())
	check(t, ua, ub, a, true)
	check(t, ub, ua, a, true)
	if err := a.Drop(t.Context(), Egress, b.Addrs()[0].Addr()); err != nil {
		t.Fatal(err)
	}
	check(t, ua, ub, a, false)
	check(t, ub, ua, a, true)
	if err := a.ClearDrops(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := a.Drop(t.Context(), Ingress, b.Addrs()[0].Addr()); err != nil {
		t.Fatal(err)
	}
	check(t, ua, ub, a, true)
	check(t, ub, ua, a, false)
}

// TestDropPings shows the one-way fault a ping mesh can attribute: a stops
// answering b's pings, yet reaches b itself, and other traffic from b passes.
func TestDropPings(t *testing.T) {
	t.Parallel()
	requirePing(t)
	n := newForTest(t, Options{})
	hosts := addHosts(t, n, "a=10.251.33.1/24", "b=10.251.44.2/24", "c=10.251.55.3/24", "a6=fd51:251::1/64", "b6=fd52:251::2/64")
	a, b, c, a6, b6 := hosts[0], hosts[1], hosts[2], hosts[3], hosts[4]
	addr := func(h *Host) netip.Addr { return h.Addrs()[0].Addr() }
	for _, tc := range []struct{ a, b, other *Host }{{a, b, c}, {a6, b6, nil}} {
		if err := tc.a.DropPings(t.Context(), Ingress, addr(tc.b)); err != nil {
			t.Fatal(err)
		}
		if err := ping(t.Context(), tc.b, addr(tc.a)); err == nil {
			t.Errorf("%s still answers %s's pings", tc.a.Name(), tc.b.Name())
		}
		if err := ping(t.Context(), tc.a, addr(tc.b)); err != nil {
			t.Errorf("%s no longer reaches %s: %v", tc.a.Name(), tc.b.Name(), err)
		}
		if tc.other != nil {
			if err := ping(t.Context(), tc.other, addr(tc.a)); err != nil {
				t.Errorf("%s's pings to %s dropped too: %v", tc.other.Name(), tc.a.Name(), err)
			}
			ua, ub := listenUDP(t, tc.a, addr(tc.a)), listenUDP(t, tc.b, addr(tc.b))
			check(t, ub, ua, tc.a, true)
		}
		if got, err := tc.a.Dropped(t.Context()); err != nil || got == 0 {
			t.Errorf("%s: Dropped() = %d, %v; want the dropped echo requests", tc.a.Name(), got, err)
		}
	}
}
