package emu

import (
	"context"
	"fmt"
	"runtime"

	"golang.org/x/sync/errgroup"
)

// PinNeighbors gives every host a permanent neighbour (ARP or NDP) entry for
// every address of every other host, of the address families it has.
//
// The kernel's neighbour tables are shared by all namespaces, with one
// machine-wide limit (net.ipv4.neigh.default.gc_thresh3, 1024 entries by
// default): a full mesh of 100 hosts needs 9,900 entries, and past the limit
// sends fail with ENOBUFS ("neighbor table overflow"). Permanent entries do
// not count against it, and they spare the segment the ARP traffic. They
// cost kernel memory (about 0.5 KB each: 1,000 hosts, 999,000 entries, about
// 500 MB) until the namespaces go. Hosts are pinned in parallel, each
// through one netlink socket with batched requests. Call it once all hosts
// are added; hosts added later are not covered.
func (n *Network) PinNeighbors(ctx context.Context) error {
	hosts := n.Hosts()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, h := range hosts {
		g.Go(func() error {
			if err := h.pin(gctx, hosts, i); err != nil {
				return fmt.Errorf("pin neighbours: host %s: %w", h.name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	n.log.Debug("pinned neighbours", "hosts", len(hosts))
	return nil
}

// pin adds to h the entries for all hosts but hosts[self], of the address
// families h has (without IPv6 addresses, IPv6 is off on its eth0).
func (h *Host) pin(ctx context.Context, hosts []*Host, self int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var has4, has6 bool
	for _, p := range h.addrs {
		has4, has6 = has4 || p.Addr().Is4(), has6 || p.Addr().Is6()
	}
	w, err := openNeighWriter(h.NetnsPath())
	if err != nil {
		return err
	}
	defer w.close()
	for j, o := range hosts {
		if j == self {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, p := range o.addrs {
			if p.Addr().Is4() && !has4 || p.Addr().Is6() && !has6 {
				continue
			}
			if err := w.add(h.ifindex, p.Addr(), o.mac); err != nil {
				return err
			}
		}
	}
	return w.flush()
}
