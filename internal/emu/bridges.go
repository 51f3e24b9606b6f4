package emu

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
)

// MaxBridgePorts is the most ports a Linux bridge takes: port numbers have
// 10 bits (BR_MAX_PORTS = 1024) and port 0 is reserved.
const MaxBridgePorts = 1023

// A network larger than one bridge spreads its hosts over several: hosts
// fill bridge 1, then bridge 2, and so on, ports-1 hosts each, and every
// bridge keeps its last port for an uplink veth pair to the trunk bridge,
// made when the second bridge is. The bridges form a star around the trunk,
// a tree: no loops, so no spanning tree is needed, and a frame crosses at
// most three bridges. Every bridge and uplink is set up like the first
// bridge: no address, IPv6 off (the switch's default), multicast snooping
// off, so the switch stays silent on the segment.

// hostsPerBridge returns how many hosts one bridge of n takes.
func (n *Network) hostsPerBridge() int { return n.ports - 1 }

// bridgeFor returns the number (1, ...) of the bridge of host number num
// (1, ...), creating it, and the trunk, as needed. The caller holds n.mu.
func (n *Network) bridgeFor(num int) (int, error) {
	k := (num-1)/n.hostsPerBridge() + 1
	for len(n.bridges) < k {
		if err := n.addBridge(len(n.bridges) + 1); err != nil {
			return 0, err
		}
	}
	return k, nil
}

// addBridge creates host bridge k; from the second bridge on it joins the
// bridges to the trunk. The caller holds n.mu. On error nothing of bridge k
// is left behind.
func (n *Network) addBridge(k int) error {
	if k > 1 && k > n.ports {
		return fmt.Errorf("network full: %d bridges of %d ports, one trunk of %d ports", k-1, n.ports, n.ports)
	}
	name := bridgeName(n.run, k)
	if err := n.createBridge(name); err != nil {
		return err
	}
	if k > 1 {
		if err := n.joinTrunk(k); err != nil {
			return errors.Join(err, n.deleteLink(name))
		}
	}
	n.bridges = append(n.bridges, name)
	n.log.Debug("created bridge", "bridge", name)
	return nil
}

// joinTrunk joins bridges 1 to k to the trunk, creating the trunk on first
// use; bridges joined before stay joined, so a failed attempt can be
// repeated. The caller holds n.mu.
func (n *Network) joinTrunk(k int) error {
	if !n.trunk {
		if err := n.createBridge(trunkName(n.run)); err != nil {
			return err
		}
		n.trunk = true
	}
	for n.uplinks < k {
		if err := n.addUplink(n.uplinks + 1); err != nil {
			return err
		}
		n.uplinks++
	}
	return nil
}

// createBridge creates a bridge in the switch: up, without addresses,
// multicast snooping disabled.
func (n *Network) createBridge(name string) error {
	// Without multicast snooping the bridge neither joins the all-snoopers
	// group nor sends IGMP reports for it: the switch stays silent.
	snooping := false
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}, MulticastSnooping: &snooping}
	if err := n.sw.LinkAdd(br); err != nil {
		return fmt.Errorf("create bridge %s: %w", name, err)
	}
	if err := n.attach(br, nil); err != nil {
		return errors.Join(fmt.Errorf("bridge %s: %w", name, err), n.deleteLink(name))
	}
	return nil
}

// addUplink joins bridge k to the trunk with a veth pair P-u<K> (on the
// bridge) and P-t<K> (on the trunk).
func (n *Network) addUplink(k int) error {
	up, down := uplinkName(n.run, k), trunkPortName(n.run, k)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: up}, PeerName: down}
	if err := n.sw.LinkAdd(veth); err != nil {
		return fmt.Errorf("create uplink %s: %w", up, err)
	}
	err := func() error {
		for _, end := range []struct{ link, master string }{{up, bridgeName(n.run, k)}, {down, trunkName(n.run)}} {
			l, err := n.sw.LinkByName(end.link)
			if err != nil {
				return fmt.Errorf("find %s: %w", end.link, err)
			}
			br, err := n.sw.LinkByName(end.master)
			if err != nil {
				return fmt.Errorf("find %s: %w", end.master, err)
			}
			if err := n.attach(l, br); err != nil {
				return fmt.Errorf("uplink %s: %w", end.link, err)
			}
		}
		return nil
	}()
	if err != nil {
		return errors.Join(err, n.deleteLink(up))
	}
	return nil
}

// Bridges returns the names of the network's host bridges (in the switch
// namespace), in order; the trunk that joins them is not among them.
func (n *Network) Bridges() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.bridges...)
}
