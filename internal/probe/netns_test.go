package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

// testNet is two network namespaces created by the test and joined by a
// veth pair; the root namespace never sends to them.
//
//	A: pmta 10.200.1.1/24 10.200.1.11/24 fd00:200:1::1/64
//	B: pmtb 10.200.1.2/24 fd00:200:1::2/64, forwarding on,
//	   unreachable routes 10.201.1.0/24 and fd00:201:1::/64,
//	   10.202.1.0/24 and fd00:202:1::/64 routed back via A
//	A routes 10.201/10.202 and fd00:201/fd00:202 via B.
//
// A probe from A with TTL 1 to 10.202.1.5 therefore expires in B.
type testNet struct {
	a, b string // namespace paths
}

// Addresses of the test network.
var (
	netB4, netB6             = netip.MustParseAddr("10.200.1.2"), netip.MustParseAddr("fd00:200:1::2")
	netNoNeigh4, netNoNeigh6 = netip.MustParseAddr("10.200.1.3"), netip.MustParseAddr("fd00:200:1::3")
	netUnreach4, netUnreach6 = netip.MustParseAddr("10.201.1.5"), netip.MustParseAddr("fd00:201:1::5")
	netBeyond4, netBeyond6   = netip.MustParseAddr("10.202.1.5"), netip.MustParseAddr("fd00:202:1::5")
)

// newTestNet builds the test network; t.Cleanup removes it. tag keeps the
// names of several networks of one run apart.
func newTestNet(t *testing.T, tag string) *testNet {
	t.Helper()
	testenv.RequireRoot(t)
	prefix := fmt.Sprintf("pmt%d%s", os.Getpid(), tag)
	hA, pathA := makeNetns(t, prefix+"a")
	hB, pathB := makeNetns(t, prefix+"b")
	nlA, nlB := netlinkAt(t, hA), netlinkAt(t, hB)

	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "pmta"}, PeerName: "pmtb", PeerNamespace: netlink.NsFd(int(hB))}
	must(t, "add veth", nlA.LinkAdd(veth))
	setSysctl(t, pathB, "net/ipv4/ip_forward", "1")
	setSysctl(t, pathB, "net/ipv6/conf/all/forwarding", "1")
	for _, p := range []string{pathA, pathB} {
		setSysctl(t, p, "net/ipv4/ping_group_range", "0 2147483647")
	}
	// Fail neighbor resolution fast, for the "no such neighbor" probes.
	setSysctl(t, pathA, "net/ipv4/neigh/pmta/mcast_solicit", "1")
	setSysctl(t, pathA, "net/ipv4/neigh/pmta/retrans_time_ms", "100")
	setSysctl(t, pathA, "net/ipv6/neigh/pmta/mcast_solicit", "1")
	setSysctl(t, pathA, "net/ipv6/neigh/pmta/retrans_time_ms", "100")

	linkUp(t, nlA, "lo")
	linkUp(t, nlB, "lo")
	la := linkUp(t, nlA, "pmta", "10.200.1.1/24", "10.200.1.11/24", "fd00:200:1::1/64")
	lb := linkUp(t, nlB, "pmtb", "10.200.1.2/24", "fd00:200:1::2/64")
	for _, dst := range []string{"10.201.1.0/24", "fd00:201:1::/64"} {
		must(t, "add unreachable route", nlB.RouteAdd(&netlink.Route{Dst: prefixNet(dst), Type: unix.RTN_UNREACHABLE}))
	}
	for dst, gw := range map[string]string{"10.202.1.0/24": "10.200.1.1", "fd00:202:1::/64": "fd00:200:1::1"} {
		must(t, "add route "+dst, nlB.RouteAdd(&netlink.Route{LinkIndex: lb.Attrs().Index, Dst: prefixNet(dst), Gw: net.ParseIP(gw)}))
	}
	for dst, gw := range map[string]string{
		"10.201.1.0/24": "10.200.1.2", "10.202.1.0/24": "10.200.1.2",
		"fd00:201:1::/64": "fd00:200:1::2", "fd00:202:1::/64": "fd00:200:1::2",
	} {
		must(t, "add route "+dst, nlA.RouteAdd(&netlink.Route{LinkIndex: la.Attrs().Index, Dst: prefixNet(dst), Gw: net.ParseIP(gw)}))
	}
	waitOperUp(t, hA, "pmta")
	waitOperUp(t, hB, "pmtb")
	return &testNet{a: pathA, b: pathB}
}

// waitOperUp waits until link name of namespace ns is operationally up:
// the kernel activates a veth's queue some time after its carrier rises.
func waitOperUp(t *testing.T, ns netns.NsHandle, name string) {
	t.Helper()
	ch := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{Namespace: &ns, ListExisting: true})
	must(t, "subscribe to link updates", err)
	timeout := time.After(10 * time.Second)
	for {
		select {
		case u, ok := <-ch:
			if !ok {
				t.Fatalf("link updates ended before %s was up", name)
			}
			if a := u.Attrs(); a.Name == name && a.OperState == netlink.OperUp {
				return
			}
		case <-timeout:
			t.Fatalf("link %s not up after 10s", name)
		}
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func prefixNet(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err) // constant input
	}
	return n
}

// makeNetns creates the named namespace name without moving the calling
// thread, and removes it in t.Cleanup.
func makeNetns(t *testing.T, name string) (netns.NsHandle, string) {
	t.Helper()
	type made struct {
		h   netns.NsHandle
		err error
	}
	ch := make(chan made, 1)
	go func() {
		runtime.LockOSThread() // unlocked only if the thread is back home
		orig, err := netns.Get()
		if err != nil {
			ch <- made{err: err}
			return
		}
		defer orig.Close()
		h, err := netns.NewNamed(name) // moves this thread into the new namespace
		if serr := netns.Set(orig); serr != nil {
			ch <- made{h: h, err: fmt.Errorf("return to original namespace: %w", serr)}
			return
		}
		runtime.UnlockOSThread()
		ch <- made{h: h, err: err}
	}()
	m := <-ch
	if m.err != nil {
		t.Fatalf("create network namespace %s: %v", name, m.err)
	}
	t.Cleanup(func() {
		m.h.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete network namespace %s: %v", name, err)
		}
	})
	return m.h, filepath.Join("/var/run/netns", name)
}

func netlinkAt(t *testing.T, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink handle: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// linkUp sets link name up and adds addrs (without duplicate address
// detection, so IPv6 addresses work at once).
func linkUp(t *testing.T, h *netlink.Handle, name string, addrs ...string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	must(t, "find link "+name, err)
	must(t, "set "+name+" up", h.LinkSetUp(l))
	for _, a := range addrs {
		addr, err := netlink.ParseAddr(a)
		must(t, "parse "+a, err)
		addr.Flags = unix.IFA_F_NODAD
		must(t, "add address "+a, h.AddrAdd(l, addr))
	}
	return l
}

// setSysctl writes a sysctl of the namespace at path (key like net/ipv4/ip_forward).
func setSysctl(t *testing.T, path, key, value string) {
	t.Helper()
	err := inNetns(path, func() error { return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644) })
	must(t, "sysctl "+key, err)
}

func TestNetnsProbes(t *testing.T) {
	tn := newTestNet(t, "p")
	// B rate-limits the ICMPv4 errors it sends to one address (a
	// destination unreachable costs two tokens of six), so each mode
	// probes from its own source address.
	for _, tc := range []struct {
		mode Mode
		src  string
	}{{ModeRaw, "10.200.1.1"}, {ModeDatagram, "10.200.1.11"}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			src := netip.MustParseAddr(tc.src)
			e, err := New(context.Background(), Config{Netns: tn.a, Mode: tc.mode, Source: src})
			must(t, "New", err)
			defer e.Close()
			ttl1, err := New(context.Background(), Config{Netns: tn.a, Mode: tc.mode, Source: src, TTL: 1})
			must(t, "New TTL 1", err)
			defer ttl1.Close()
			for _, tc := range []struct {
				e          *Engine
				target     netip.Addr
				wantStatus Status
				wantReason string
			}{
				{e, netB4, StatusReply, ""},
				{e, netB6, StatusReply, ""},
				{e, netip.MustParseAddr("127.0.0.1"), StatusReply, ""},
				{e, netip.IPv6Loopback(), StatusReply, ""},
				{e, netUnreach4, StatusUnreachable, "destination host unreachable from 10.200.1.2"},
				{e, netUnreach6, StatusUnreachable, "no route to destination from fd00:200:1::2"},
				{ttl1, netBeyond4, StatusTTLExceeded, "TTL exceeded in transit from 10.200.1.2"},
				{ttl1, netBeyond6, StatusTTLExceeded, "hop limit exceeded in transit from fd00:200:1::2"},
				{e, netNoNeigh4, StatusUnreachable, "destination host unreachable from 10.200.1."}, // A itself
				{e, netNoNeigh6, StatusUnreachable, "destination address unreachable from fd00:200:1::1"},
			} {
				r, err := tc.e.Ping(context.Background(), tc.target, 3*time.Second)
				must(t, "Ping", err)
				if r.Status != tc.wantStatus || !strings.HasPrefix(r.Reason, tc.wantReason) {
					t.Errorf("Ping %v = %v %q, want %v %q", tc.target, r.Status, r.Reason, tc.wantStatus, tc.wantReason)
				}
			}
		})
	}
}

// A namespace keeps the default net.ipv4.ping_group_range "1 0": datagram
// sockets are denied, and the error says what to change.
func TestNetnsDatagramDenied(t *testing.T) {
	testenv.RequireRoot(t)
	_, path := makeNetns(t, fmt.Sprintf("pmt%dd", os.Getpid()))
	_, err := New(context.Background(), Config{Netns: path, Mode: ModeDatagram})
	if err == nil || !strings.Contains(err.Error(), "net.ipv4.ping_group_range") {
		t.Fatalf("New in a fresh namespace = %v, want an error naming net.ipv4.ping_group_range", err)
	}
}

// Many concurrent probes across the veth pair, from a namespace, all
// answered.
func TestNetnsMany(t *testing.T) {
	tn := newTestNet(t, "m")
	e, err := New(context.Background(), Config{Netns: tn.a})
	must(t, "New", err)
	defer e.Close()
	// Resolve the neighbor first: the kernel queues few packets meanwhile.
	for _, a := range []netip.Addr{netB4, netB6} {
		if r, err := e.Ping(context.Background(), a, 3*time.Second); err != nil || !r.OK() {
			t.Fatalf("first ping %v: %v %v", a, r, err)
		}
	}
	targets := make([]netip.Addr, 0, 4000)
	for range 2000 {
		targets = append(targets, netB4, netB6)
	}
	if n := pingAll(t, e, targets, 5*time.Second); n != len(targets) {
		t.Errorf("%d of %d probes answered; stats %+v", n, len(targets), e.Stats())
	}
}
