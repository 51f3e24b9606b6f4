package emu

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Direction selects which packets of a host Drop discards.
type Direction int

// Directions for Drop.
const (
	Ingress Direction = iota + 1 // packets arriving at the host's eth0
	Egress                       // packets the host sends out of eth0
	Both                         // both of the above
)

// String returns "ingress", "egress" or "both".
func (d Direction) String() string {
	switch d {
	case Ingress:
		return "ingress"
	case Egress:
		return "egress"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// The drop rules live in table "netdev pmonitor_emu" inside the host's
// namespace ('ip netns exec NS nft list table netdev pmonitor_emu'), in base
// chains on eth0's netdev ingress and egress hooks. Dropping there, rather
// than in the inet input/output hooks, keeps loopback traffic untouched and
// makes egress loss look like loss at the network card instead of a local
// firewall: a UDP sendto succeeds, and ICMP sockets (ping sockets, raw
// sockets with IP_RECVERR, as iputils ping uses) get ENOBUFS, as from a full
// transmit queue, where an output-hook drop would return EPERM. Only IPv4
// and IPv6 packets are dropped, never ARP or IPv6 neighbour discovery, so
// one-way faults stay one-way.
const nftTableName = "pmonitor_emu"

func nftTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyNetdev, Name: nftTableName}
}

// nftChain returns the base chain for d (Ingress or Egress) in table t.
func nftChain(t *nftables.Table, d Direction) *nftables.Chain {
	name, hook := "ingress", nftables.ChainHookIngress
	if d == Egress {
		name, hook = "egress", nftables.ChainHookEgress
	}
	accept := nftables.ChainPolicyAccept
	return &nftables.Chain{
		Name: name, Table: t, Type: nftables.ChainTypeFilter, Device: hostIfName,
		Hooknum: hook, Priority: nftables.ChainPriorityFilter, Policy: &accept,
	}
}

// Drop adds rules inside the host that drop its IP packets in direction dir:
// from (Ingress) or to (Egress) each of peers, or, with no peers, all IP
// packets on eth0 (never loopback). Rules accumulate until ClearDrops.
// Egress-only or Ingress-only rules make asymmetric faults: with
// Drop(ctx, Ingress, b) the host still reaches b but hears nothing from it.
// ARP and neighbour discovery pass, so neighbours still resolve each other.
// A UDP sender does not notice the loss; ICMP senders get ENOBUFS (see
// nftTableName). Dropped counts the discarded packets.
func (h *Host) Drop(ctx context.Context, dir Direction, peers ...netip.Addr) error {
	return h.drop(ctx, dir, false, peers)
}

// DropPings is Drop restricted to ICMP and ICMPv6 echo requests: with
// DropPings(ctx, Ingress, b) the host no longer answers b's pings, while its
// own pings to b, and b's replies, still pass. For a ping mesh this is the
// one fault whose direction can be told: b sees the host fail, the host
// sees b answer. Echo requests are matched without IPv4 options or IPv6
// extension headers, which pings do not carry.
func (h *Host) DropPings(ctx context.Context, dir Direction, peers ...netip.Addr) error {
	return h.drop(ctx, dir, true, peers)
}

func (h *Host) drop(ctx context.Context, dir Direction, pingsOnly bool, peers []netip.Addr) error {
	if dir != Ingress && dir != Egress && dir != Both {
		return fmt.Errorf("host %s: drop: invalid direction %d", h.name, int(dir))
	}
	for _, p := range peers {
		if !p.IsValid() {
			return fmt.Errorf("host %s: drop: invalid peer address", h.name)
		}
	}
	h.nftMu.Lock()
	defer h.nftMu.Unlock()
	err := h.nftConn(ctx, func(c *nftables.Conn) error {
		t := nftTable()
		_, err := c.ListTableOfFamily(t.Name, t.Family)
		fresh := errors.Is(err, unix.ENOENT)
		if err != nil && !fresh {
			return fmt.Errorf("list table: %w", err)
		}
		if fresh { // both chains at once, so later Drops only add rules
			c.AddTable(t)
			for _, d := range []Direction{Ingress, Egress} {
				ch := c.AddChain(nftChain(t, d))
				c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: acceptNDExprs()})
			}
		}
		for _, d := range []Direction{Ingress, Egress} {
			if dir != Both && dir != d {
				continue
			}
			ch := nftChain(t, d)
			var rules [][]expr.Any
			switch {
			case len(peers) == 0 && pingsOnly:
				rules = [][]expr.Any{dropPingExprs(false, nil), dropPingExprs(true, nil)}
			case len(peers) == 0:
				rules = [][]expr.Any{dropProtoExprs(unix.ETH_P_IP), dropProtoExprs(unix.ETH_P_IPV6)}
			}
			for _, p := range peers {
				if pingsOnly {
					rules = append(rules, dropPingExprs(p.Unmap().Is6(), peerMatch(d, p)))
				} else {
					rules = append(rules, dropPeerExprs(d, p))
				}
			}
			for _, r := range rules {
				c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r})
			}
		}
		return c.Flush()
	})
	if err != nil {
		return fmt.Errorf("host %s: drop %s %v: %w", h.name, dir, peers, err)
	}
	h.net.log.Debug("drop", "host", h.name, "dir", dir, "peers", peers)
	return nil
}

// ClearDrops removes all drop rules of the host.
func (h *Host) ClearDrops(ctx context.Context) error {
	h.nftMu.Lock()
	defer h.nftMu.Unlock()
	err := h.nftConn(ctx, func(c *nftables.Conn) error {
		t := c.AddTable(nftTable()) // so that deleting it succeeds when absent
		c.DelTable(t)
		return c.Flush()
	})
	if err != nil {
		return fmt.Errorf("host %s: clear drops: %w", h.name, err)
	}
	h.net.log.Debug("cleared drops", "host", h.name)
	return nil
}

// Dropped returns how many packets the host's drop rules have discarded
// since they were installed (ClearDrops resets it to 0).
func (h *Host) Dropped(ctx context.Context) (uint64, error) {
	var total uint64
	err := h.nftConn(ctx, func(c *nftables.Conn) error {
		t := nftTable()
		if _, err := c.ListTableOfFamily(t.Name, t.Family); errors.Is(err, unix.ENOENT) {
			return nil // no table: no rules
		} else if err != nil {
			return fmt.Errorf("list table: %w", err)
		}
		for _, d := range []Direction{Ingress, Egress} {
			rules, err := c.GetRules(t, nftChain(t, d))
			if err != nil {
				return fmt.Errorf("list rules: %w", err)
			}
			for _, r := range rules {
				for _, e := range r.Exprs {
					if ctr, ok := e.(*expr.Counter); ok {
						total += ctr.Packets
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("host %s: read drop counters: %w", h.name, err)
	}
	return total, nil
}

// nftConn calls fn with an nftables connection into the host's namespace.
func (h *Host) nftConn(ctx context.Context, fn func(*nftables.Conn) error) error {
	if h.net.isClosed() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ns, err := netns.GetFromPath(h.NetnsPath())
	if err != nil {
		return fmt.Errorf("open netns %s: %w", h.netns, err)
	}
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return err
	}
	return fn(c)
}

// etherType matches the packet's EtherType (meta protocol) against proto.
func etherType(proto uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, proto)},
	}
}

// dropProtoExprs: meta protocol PROTO counter drop.
func dropProtoExprs(proto uint16) []expr.Any {
	return append(etherType(proto), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
}

// dropPeerExprs: ip saddr/daddr (or ip6) == peer counter drop.
func dropPeerExprs(d Direction, peer netip.Addr) []expr.Any {
	proto := uint16(unix.ETH_P_IP)
	if peer.Unmap().Is6() {
		proto = unix.ETH_P_IPV6
	}
	return append(append(etherType(proto), peerMatch(d, peer)...), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
}

// peerMatch: ip saddr (Ingress) or daddr (Egress) == peer, or ip6 likewise;
// the caller has matched the EtherType.
func peerMatch(d Direction, peer netip.Addr) []expr.Any {
	peer = peer.Unmap()
	off := uint32(12) // IPv4 source address
	if peer.Is6() {
		off = 8
	}
	size := uint32(peer.BitLen() / 8)
	if d == Egress {
		off += size // the destination follows the source
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: size},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: peer.AsSlice()},
	}
}

// dropPingExprs: ip protocol icmp, icmp type echo-request (or the ICMPv6
// equivalents), then match, counter drop.
func dropPingExprs(v6 bool, match []expr.Any) []expr.Any {
	proto, protoOff, l4, typeOff, echo := uint16(unix.ETH_P_IP), uint32(9), byte(unix.IPPROTO_ICMP), uint32(20), byte(8)
	if v6 {
		proto, protoOff, l4, typeOff, echo = unix.ETH_P_IPV6, 6, unix.IPPROTO_ICMPV6, 40, 128
	}
	e := append(etherType(proto),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: protoOff, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{l4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: typeOff, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{echo}},
	)
	e = append(e, match...)
	return append(e, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
}

// acceptNDExprs: ip6 nexthdr icmpv6, icmpv6 type 133-137 (router and
// neighbour solicitation/advertisement, redirect) accept. Neighbour
// discovery carries no extension headers, so ICMPv6 starts at offset 40.
func acceptNDExprs() []expr.Any {
	return append(etherType(unix.ETH_P_IPV6),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 6, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 40, Len: 1},
		&expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: []byte{133}},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: []byte{137}},
		&expr.Verdict{Kind: expr.VerdictAccept},
	)
}
