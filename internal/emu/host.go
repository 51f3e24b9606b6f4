package emu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Host is one emulated host: a network namespace whose "eth0" is a veth
// attached to one of the network's bridges. Its methods are safe for
// concurrent use; after the Network is closed they return errors.
type Host struct {
	net     *Network
	name    string
	addrs   []netip.Prefix
	num     int              // host number, 1..: veth name and bridge slot
	netns   string           // namespace name
	veth    string           // bridge-side end of the veth pair, in the switch namespace
	bridge  string           // the bridge veth is attached to
	mac     net.HardwareAddr // of eth0, for PinNeighbors
	ifindex int              // of eth0, inside the namespace
	ready   bool             // built and listed in net.hosts; guarded by net.mu

	nftMu sync.Mutex // serializes changes of the drop rules
}

// Name returns the host name given to AddHost.
func (h *Host) Name() string { return h.name }

// Addrs returns the addresses assigned to the host's eth0.
func (h *Host) Addrs() []netip.Prefix { return slices.Clone(h.addrs) }

// NetnsName returns the namespace name, as listed by 'ip netns'.
func (h *Host) NetnsName() string { return h.netns }

// NetnsPath returns the path of the namespace's bind mount.
func (h *Host) NetnsPath() string { return netnsPath(h.netns) }

// BridgePort returns the name of the bridge-side veth, in the switch
// namespace (Network.SwitchNetns).
func (h *Host) BridgePort() string { return h.veth }

// Bridge returns the name of the bridge the host is attached to.
func (h *Host) Bridge() string { return h.bridge }

// AddHost creates host name: namespace "<prefix>-<name>" with lo up, a veth
// pair whose host end is "eth0" with addrs assigned and whose other end is
// attached to a bridge, and default routes "dev eth0" (on-link, per address
// family present in addrs) so that hosts in different subnets reach each
// other by ARP. Inside the namespace net.ipv4.ping_group_range allows
// unprivileged ICMP datagram sockets, and without IPv6 addresses IPv6 is off
// on eth0. Names and addresses must be unique within the network. On error
// nothing of the host is left behind. Calls from several goroutines build
// their hosts in parallel (most of the work is the kernel's, per namespace).
func (n *Network) AddHost(ctx context.Context, name string, addrs ...netip.Prefix) (*Host, error) {
	if err := checkHostName(name); err != nil {
		return nil, err
	}
	var ipv6 bool
	for _, a := range addrs {
		if !a.IsValid() || a.Addr().Is4In6() {
			return nil, fmt.Errorf("host %s: invalid address %q", name, a)
		}
		ipv6 = ipv6 || a.Addr().Is6()
	}
	h, err := n.reserve(ctx, name, addrs)
	if err != nil {
		return nil, err
	}
	defer n.adding.Done()
	err = h.create(ctx, ipv6)
	n.mu.Lock()
	defer n.mu.Unlock()
	if err == nil && n.closed {
		err = ErrClosed // Close waits for this call, then removes what is listed
	}
	if err != nil {
		if rerr := h.remove(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		n.release(h)
		return nil, fmt.Errorf("add host %s: %w", name, err)
	}
	h.ready = true
	i, _ := slices.BinarySearchFunc(n.hosts, h.num, func(o *Host, num int) int { return o.num - num })
	n.hosts = slices.Insert(n.hosts, i, h)
	n.log.Debug("added host", "host", name, "netns", h.netns, "veth", h.veth, "bridge", h.bridge, "addrs", addrs)
	return h, nil
}

// reserve checks that name and addrs are free, claims them and a host
// number (and bridge slot) for a new host, and counts the call in n.adding.
func (n *Network) reserve(ctx context.Context, name string, addrs []netip.Prefix) (*Host, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, ErrClosed
	}
	if n.byName[name] != nil {
		return nil, fmt.Errorf("host %s: name already used", name)
	}
	for i, a := range addrs {
		if o := n.byAddr[a.Addr()]; o != nil {
			return nil, fmt.Errorf("host %s: address %s already on host %s", name, a.Addr(), o.name)
		}
		if slices.ContainsFunc(addrs[:i], func(b netip.Prefix) bool { return b.Addr() == a.Addr() }) {
			return nil, fmt.Errorf("host %s: duplicate address %s", name, a.Addr())
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("add host %s: %w", name, err)
	}
	h := &Host{
		net:   n,
		name:  name,
		addrs: slices.Clone(addrs),
		num:   n.numbered + 1,
		netns: netnsName(n.run, name),
	}
	h.veth = vethName(n.run, h.num)
	if len(h.veth) > ifNameMax {
		return nil, fmt.Errorf("host %s: interface name %s longer than %d bytes", name, h.veth, ifNameMax)
	}
	if _, err := os.Lstat(h.NetnsPath()); err == nil {
		return nil, fmt.Errorf("host %s: netns %s exists (a leftover? see 'pmonitor emulate --cleanup')", name, h.netns)
	}
	k, err := n.bridgeFor(h.num)
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", name, err)
	}
	h.bridge = n.bridges[k-1]
	n.numbered = h.num
	n.byName[name] = h
	for _, a := range addrs {
		n.byAddr[a.Addr()] = h
	}
	n.adding.Add(1)
	return h, nil
}

// release frees the name and addresses of a host that was not built. The
// caller holds n.mu.
func (n *Network) release(h *Host) {
	delete(n.byName, h.name)
	for _, a := range h.addrs {
		if n.byAddr[a.Addr()] == h {
			delete(n.byAddr, a.Addr())
		}
	}
}

// create builds the namespace and the veth pair; the caller removes partial
// results on error.
func (h *Host) create(ctx context.Context, ipv6 bool) error {
	mark := h.net.owner.forHost(h.name)
	if err := createNetns(h.netns, mark, ipv6); err != nil {
		return err
	}
	ns, err := netns.GetFromPath(h.NetnsPath())
	if err != nil {
		return fmt.Errorf("open netns %s: %w", h.netns, err)
	}
	defer ns.Close()
	// Created in the switch, its peer in the host: the pair never passes
	// through the root namespace.
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: h.veth},
		PeerName:      hostIfName,
		PeerNamespace: netlink.NsFd(ns),
	}
	sw := h.net.sw
	if err := sw.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s: %w", h.veth, err)
	}
	br, err := sw.LinkByName(h.bridge)
	if err != nil {
		return fmt.Errorf("find bridge: %w", err)
	}
	if err := h.net.attach(veth, br); err != nil {
		return fmt.Errorf("veth %s: %w", h.veth, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in netns %s: %w", h.netns, err)
	}
	defer nl.Close()
	return h.configure(nl)
}

// configure sets up eth0 inside the namespace: addresses, up, default routes.
func (h *Host) configure(nl *netlink.Handle) error {
	eth0, err := nl.LinkByName(hostIfName)
	if err != nil {
		return fmt.Errorf("find %s: %w", hostIfName, err)
	}
	h.mac, h.ifindex = eth0.Attrs().HardwareAddr, eth0.Attrs().Index
	var has4, has6 bool
	for _, p := range h.addrs {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD // usable at once; addresses are unique by construction
			has6 = true
		} else {
			has4 = true
		}
		if err := nl.AddrAdd(eth0, a); err != nil {
			return fmt.Errorf("add address %s: %w", p, err)
		}
	}
	if err := nl.LinkSetUp(eth0); err != nil {
		return fmt.Errorf("set %s up: %w", hostIfName, err)
	}
	for _, r := range []struct {
		want bool
		dst  *net.IPNet
	}{
		{has4, &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}},
		{has6, &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}},
	} {
		if !r.want {
			continue
		}
		route := &netlink.Route{LinkIndex: eth0.Attrs().Index, Dst: r.dst, Scope: netlink.SCOPE_LINK}
		if err := nl.RouteAdd(route); err != nil {
			return fmt.Errorf("add default route dev %s: %w", hostIfName, err)
		}
	}
	return nil
}

// remove deletes the veth pair and the namespace; missing pieces are fine.
func (h *Host) remove() error {
	return errors.Join(h.net.deleteLink(h.veth), deleteNetns(h.netns))
}

// SetLink brings the host's uplink up or down: it sets the administrative
// state of the bridge-side veth, so the host's eth0 stays configured but
// loses its carrier, like a cable pulled at the switch.
func (h *Host) SetLink(ctx context.Context, up bool) error {
	if h.net.isClosed() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sw := h.net.sw
	l, err := sw.LinkByName(h.veth)
	if err == nil {
		if up {
			err = sw.LinkSetUp(l)
		} else {
			err = sw.LinkSetDown(l)
		}
	}
	if err != nil {
		return fmt.Errorf("host %s: set link up=%t: %w", h.name, up, err)
	}
	h.net.log.Debug("set link", "host", h.name, "up", up)
	return nil
}
