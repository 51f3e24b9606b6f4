package emu

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sync/errgroup"
)

// TestSeveralBridges builds five hosts on bridges of three ports (two hosts
// each, one port for the trunk), in parallel, and checks that every host
// reaches every other one across the trunk while the switch stays silent
// and the root namespace off the segment.
func TestSeveralBridges(t *testing.T) {
	t.Parallel()
	requirePing(t)
	n := newForTest(t, Options{BridgePorts: 3})
	var g errgroup.Group
	for i := 1; i <= 5; i++ {
		g.Go(func() error {
			_, err := n.AddHost(t.Context(), fmt.Sprintf("h%d", i), netip.MustParsePrefix(fmt.Sprintf("10.251.77.%d/24", i)))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	hosts := n.Hosts()
	r := n.Prefix()
	wantBridges := []string{r + "-br", r + "-br2", r + "-br3"}
	if got := n.Bridges(); !slices.Equal(got, wantBridges) {
		t.Fatalf("Bridges() = %v, want %v", got, wantBridges)
	}
	perBridge := map[string]int{}
	inSwitch(t, n, func() {
		for i, h := range hosts {
			if want := vethName(r, i+1); h.BridgePort() != want {
				t.Errorf("host %d: bridge port %s, want %s (hosts in number order)", i, h.BridgePort(), want)
			}
			perBridge[h.Bridge()]++
			port, err := netlink.LinkByName(h.BridgePort())
			if err != nil {
				t.Error(err)
				continue
			}
			br, err := netlink.LinkByName(h.Bridge())
			if err != nil || port.Attrs().MasterIndex != br.Attrs().Index {
				t.Errorf("host %s: port %s not on %s (%v)", h.Name(), h.BridgePort(), h.Bridge(), err)
			}
		}
		checkSilentSwitch(t, append(wantBridges, r+"-tr", r+"-u1", r+"-u2", r+"-u3", r+"-t1", r+"-t2", r+"-t3"))
	})
	if want := map[string]int{wantBridges[0]: 2, wantBridges[1]: 2, wantBridges[2]: 1}; !maps.Equal(perBridge, want) {
		t.Errorf("hosts per bridge = %v, want %v", perBridge, want)
	}
	checkRootOffSegment(t, r)
	if err := n.PinNeighbors(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, from := range []*Host{hosts[0], hosts[2], hosts[4]} {
		for _, to := range hosts {
			if to != from {
				if err := ping(t.Context(), from, to.Addrs()[0].Addr()); err != nil {
					t.Error(err)
				}
			}
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if got := leftovers(t, r); len(got) != 0 {
		t.Errorf("after Close: %v left", got)
	}
}

// checkSilentSwitch fails t unless each of the switch's links has no
// address, IPv6 off, and (bridges) multicast snooping off. It runs inside
// the switch (inSwitch).
func checkSilentSwitch(t *testing.T, links []string) {
	t.Helper()
	for _, name := range links {
		l, err := netlink.LinkByName(name)
		if err != nil {
			t.Errorf("link %s: %v", name, err)
			continue
		}
		if addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL); err != nil || len(addrs) != 0 {
			t.Errorf("link %s: addresses %v (%v), want none", name, addrs, err)
		}
		if b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6"); err == nil && strings.TrimSpace(string(b)) != "1" {
			t.Errorf("link %s: IPv6 enabled", name)
		}
		if b, ok := l.(*netlink.Bridge); ok && (b.MulticastSnooping == nil || *b.MulticastSnooping) {
			t.Errorf("bridge %s: multicast snooping on", name)
		}
		if l.Attrs().OperState == netlink.OperDown {
			t.Errorf("link %s is down", name)
		}
	}
}

// TestNetworkFull: with two ports per bridge, one host fits on each bridge
// and the trunk takes two bridges.
func TestNetworkFull(t *testing.T) {
	t.Parallel()
	n := newForTest(t, Options{BridgePorts: 2})
	addHosts(t, n, "a=10.251.78.1/24", "b=10.251.78.2/24")
	_, err := n.AddHost(t.Context(), "c", netip.MustParsePrefix("10.251.78.3/24"))
	if want := "host c: network full: 2 bridges of 2 ports, one trunk of 2 ports"; errText(err) != want {
		t.Errorf("third host: %v, want %q", err, want)
	}
	r := n.Prefix()
	want := []string{
		"bridge " + r + "-br", "bridge " + r + "-br2", "bridge " + r + "-tr",
		"netns " + r + "--sw", "netns " + r + "-a", "netns " + r + "-b",
		"veth " + r + "-t1", "veth " + r + "-t2", "veth " + r + "-u1", "veth " + r + "-u2",
		"veth " + r + "-v1", "veth " + r + "-v2",
	}
	if got := leftovers(t, r); !slices.Equal(got, want) {
		t.Errorf("after a failed host: %v, want %v", got, want)
	}
}

// inSwitch runs fn on a thread inside n's switch namespace, where the
// netlink package's functions and /proc/sys/net see the switch's links.
func inSwitch(t *testing.T, n *Network, fn func()) {
	t.Helper()
	if err := inNetns(netnsPath(n.SwitchNetns()), func() error { fn(); return nil }); err != nil {
		t.Fatal(err)
	}
}

// checkRootOffSegment fails t if the root namespace has a link of run: the
// emulated segment lives in the switch namespace only.
func checkRootOffSegment(t *testing.T, run string) {
	t.Helper()
	links, err := listLinks()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, run+"-") {
			t.Errorf("root namespace has link %s of the network", l.Attrs().Name)
		}
	}
}
