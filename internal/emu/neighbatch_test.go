package emu

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestNeighRequest decodes the requests appendNeighRequest builds.
func TestNeighRequest(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	dsts := []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("fd00::7")}
	var b []byte
	for i, d := range dsts {
		b = appendNeighRequest(b, uint32(i+10), 7, d, mac)
	}
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil || len(msgs) != len(dsts) {
		t.Fatalf("parse: %d messages, %v", len(msgs), err)
	}
	for i, m := range msgs {
		d := dsts[i]
		h := m.Header
		if h.Type != unix.RTM_NEWNEIGH || h.Flags != unix.NLM_F_REQUEST|unix.NLM_F_CREATE|unix.NLM_F_REPLACE || h.Seq != uint32(i+10) {
			t.Errorf("%s: header %+v", d, h)
		}
		if len(m.Data) < unix.SizeofNdMsg {
			t.Fatalf("%s: %d bytes of data", d, len(m.Data))
		}
		fam := byte(unix.AF_INET)
		if d.Is6() {
			fam = unix.AF_INET6
		}
		ifindex := int32(binary.NativeEndian.Uint32(m.Data[4:]))
		state := binary.NativeEndian.Uint16(m.Data[8:])
		if m.Data[0] != fam || ifindex != 7 || state != unix.NUD_PERMANENT {
			t.Errorf("%s: ndmsg family %d ifindex %d state %#x", d, m.Data[0], ifindex, state)
		}
		attrs := parseAttrs(t, m.Data[unix.SizeofNdMsg:])
		if len(attrs) != 2 || !bytes.Equal(attrs[unix.NDA_DST], d.AsSlice()) || !bytes.Equal(attrs[unix.NDA_LLADDR], mac) {
			t.Errorf("%s: attributes %v", d, attrs)
		}
	}
}

// TestPinNeighbors checks the entries a host gets: one permanent entry per
// address of every other host, with that host's MAC, IPv4 and IPv6, and no
// IPv6 entries on a host without IPv6.
func TestPinNeighbors(t *testing.T) {
	t.Parallel()
	n := newForTest(t, Options{})
	hosts := addHosts(t, n, "a=10.251.79.1/24,fd79::1/64", "b=10.251.79.2/24", "c=10.251.79.3/24,10.251.80.3/24")
	if err := n.PinNeighbors(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		want := map[netip.Addr]string{}
		for _, o := range hosts {
			if o != h {
				for _, p := range o.Addrs() {
					if p.Addr().Is4() || h.Name() == "a" {
						want[p.Addr()] = o.mac.String()
					}
				}
			}
		}
		got := map[netip.Addr]string{}
		err := h.Do(func() error {
			neighs, err := netlink.NeighList(0, netlink.FAMILY_ALL)
			for _, e := range neighs {
				a, _ := netip.AddrFromSlice(e.IP)
				if e.State == netlink.NUD_PERMANENT {
					got[a.Unmap()] = e.HardwareAddr.String()
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("host %s: permanent entries %v, want %v", h.Name(), got, want)
		}
		for a, mac := range want {
			if got[a] != mac {
				t.Errorf("host %s: entry for %s = %q, want %s", h.Name(), a, got[a], mac)
			}
		}
	}
}

// parseAttrs decodes netlink attributes by type.
func parseAttrs(t *testing.T, b []byte) map[uint16][]byte {
	t.Helper()
	out := map[uint16][]byte{}
	for len(b) > 0 {
		if len(b) < unix.SizeofNlAttr {
			t.Fatalf("attribute header: %d bytes left", len(b))
		}
		size := int(binary.NativeEndian.Uint16(b))
		if size < unix.SizeofNlAttr || size > len(b) {
			t.Fatalf("attribute size %d with %d bytes left", size, len(b))
		}
		out[binary.NativeEndian.Uint16(b[2:])] = b[unix.SizeofNlAttr:size]
		b = b[min(nlaSize(size-unix.SizeofNlAttr), len(b)):]
	}
	return out
}
