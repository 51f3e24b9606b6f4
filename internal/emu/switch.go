package emu

import (
	"errors"
	"fmt"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The bridges of a network, their uplinks and the bridge side of every
// host's veth live in a namespace of their own, the switch (P--sw), not in
// the root namespace. The machine's firewall then never sees the emulated
// traffic: with br_netfilter loaded (Docker and Kubernetes load it), frames
// bridged in the root namespace cross its IP FORWARD hook, where a drop
// policy silently cut every pair of hosts, and even with no rules the hook
// took 9 % of the CPU samples of 100 idle agents (perf; br_nf_* under each
// probe's sendto, which carries the whole round trip across the veths). In the switch br_netfilter is off, IPv6 is off on
// every link (no link-local address, no router solicitations), and the
// root namespace gets no link at all: removing the switch namespace
// removes every bridge with it.

// switchNetns returns the name of the switch namespace of run: a host name
// cannot start with '-', so it never collides with a host's namespace.
func switchNetns(run string) string { return run + "--sw" }

// createSwitch creates the switch namespace, marked like a host's, with
// IPv6 and br_netfilter off, and returns a netlink handle into it.
func createSwitch(run string, mark owner) (*netlink.Handle, error) {
	name := switchNetns(run)
	if err := createNetns(name, mark, false); err != nil {
		return nil, err
	}
	err := inNetns(netnsPath(name), func() error {
		// The module's switches exist only while it is loaded; per
		// namespace, they start on.
		for _, key := range []string{"bridge-nf-call-iptables", "bridge-nf-call-ip6tables", "bridge-nf-call-arptables"} {
			if err := writeSysctl("net/bridge/"+key, "0"); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	var sw *netlink.Handle
	if err == nil {
		sw, err = handleIn(netnsPath(name))
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("switch namespace %s: %w", name, err), deleteNetns(name))
	}
	return sw, nil
}

// handleIn returns a netlink handle into the namespace at path.
func handleIn(path string) (*netlink.Handle, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", path, err)
	}
	defer ns.Close()
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in netns %s: %w", path, err)
	}
	return nl, nil
}

// SwitchNetns returns the name of the namespace that holds the network's
// bridges and the bridge side of every host's veth, as listed by 'ip
// netns' (e.g. 'ip netns exec pmk3x9a--sw bridge link').
func (n *Network) SwitchNetns() string { return switchNetns(n.run) }

// attach attaches link l of the switch to master (if not nil) and brings it
// up.
func (n *Network) attach(l, master netlink.Link) error {
	if master != nil {
		if err := n.sw.LinkSetMaster(l, master); err != nil {
			return fmt.Errorf("attach to %s: %w", master.Attrs().Name, err)
		}
	}
	if err := n.sw.LinkSetUp(l); err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	return nil
}
