package emu

import (
	"context"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// PinNeighbors gives every host a permanent neighbour (ARP or NDP) entry for
// every address of every other host.
//
// The kernel's neighbour tables are shared by all namespaces, with one
// machine-wide limit (net.ipv4.neigh.default.gc_thresh3, 1024 entries by
// default): a full mesh of 100 hosts needs 9,900 entries, and past the limit
// sends fail with ENOBUFS ("neighbor table overflow"). Permanent entries do
// not count against it, and they spare the segment the ARP traffic. Call it
// once all hosts are added; hosts added later are not covered.
func (n *Network) PinNeighbors(ctx context.Context) error {
	hosts := n.Hosts()
	macs := make([]net.HardwareAddr, len(hosts))
	for i, h := range hosts {
		err := h.Do(func() error {
			l, err := netlink.LinkByName(hostIfName)
			if err == nil {
				macs[i] = l.Attrs().HardwareAddr
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("pin neighbours: host %s: %w", h.name, err)
		}
	}
	for i, h := range hosts {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := h.pin(hosts, macs, i); err != nil {
			return fmt.Errorf("pin neighbours: host %s: %w", h.name, err)
		}
	}
	n.log.Debug("pinned neighbours", "hosts", len(hosts))
	return nil
}

// pin adds to h the entries for all hosts but hosts[self].
func (h *Host) pin(hosts []*Host, macs []net.HardwareAddr, self int) error {
	ns, err := netns.GetFromPath(h.NetnsPath())
	if err != nil {
		return err
	}
	defer ns.Close()
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer nl.Close()
	eth0, err := nl.LinkByName(hostIfName)
	if err != nil {
		return err
	}
	for j, o := range hosts {
		if j == self {
			continue
		}
		for _, p := range o.addrs {
			fam := unix.AF_INET
			if p.Addr().Is6() {
				fam = unix.AF_INET6
			}
			nb := &netlink.Neigh{LinkIndex: eth0.Attrs().Index, Family: fam, State: netlink.NUD_PERMANENT,
				IP: p.Addr().AsSlice(), HardwareAddr: macs[j]}
			if err := nl.NeighSet(nb); err != nil {
				return fmt.Errorf("neighbour %s: %w", p.Addr(), err)
			}
		}
	}
	return nil
}
