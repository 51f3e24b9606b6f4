// Package emu emulates a network of hosts on one Linux machine, for tests,
// demos and fault injection: each host is a named network namespace (as
// 'ip netns add' makes, visible to 'ip netns') joined by a veth pair to a
// Linux bridge in the root namespace. A bridge takes at most 1,023 ports;
// larger networks get several bridges joined by a trunk bridge into one
// segment (bridges.go). The bridges have no address, so the root namespace
// cannot reach the hosts and nothing leaves the segment.
//
// Hosts in different subnets on the segment reach each other directly: each
// gets a default route "dev eth0" (on-link), so it resolves every destination
// by ARP. Faults: Host.SetLink takes a host's uplink down, Host.Drop installs
// nftables drop rules inside a host (one-way faults with Ingress or Egress).
// Programs run inside a host with Host.Command (needs MaybeReexec at the
// start of main or TestMain) and sockets are opened there with Host.Do.
//
// A Network tears down everything it created on Close, which callers must
// also call from their signal path; tests use newForTest. Leftovers of runs
// that crashed before Close are removed by Cleanup ('pmonitor emulate
// --cleanup'). All operations need root (CAP_NET_ADMIN, CAP_SYS_ADMIN).
package emu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrClosed is returned by operations on a Network after Close.
var ErrClosed = errors.New("network closed")

// Options configures New.
type Options struct {
	// Prefix is the run prefix that every created name starts with; see
	// CheckPrefix. Empty: "pm" plus 5 random characters, a fresh one per
	// Network, so parallel runs and tests never collide.
	Prefix string
	// Logger receives debug logs of every change; nil discards them.
	Logger *slog.Logger
	// BridgePorts is how many ports each bridge may have; 0 means
	// MaxBridgePorts, the kernel's limit. Each bridge takes BridgePorts-1
	// hosts and keeps a port for the trunk that joins the bridges of a
	// larger network (see bridges.go). Tests lower it to build several
	// bridges from a few hosts; it must be 2 to MaxBridgePorts.
	BridgePorts int
}

// Network is a set of emulated hosts on one segment: one bridge, or several
// joined by a trunk. Its methods are safe for concurrent use; AddHost calls
// from several goroutines build their hosts in parallel.
type Network struct {
	run   string
	ports int // per bridge
	owner owner
	log   *slog.Logger
	sw    *netlink.Handle // into the switch namespace; safe for concurrent use

	mu       sync.Mutex
	closed   bool
	hosts    []*Host // ready, by number
	byName   map[string]*Host
	byAddr   map[netip.Addr]*Host // also of hosts being added
	numbered int                  // host numbers given out (veth names, bridge slots)
	bridges  []string             // host bridges, in order
	trunk    bool                 // the trunk bridge exists
	uplinks  int                  // bridges 1..uplinks are joined to the trunk
	adding   sync.WaitGroup       // AddHost calls building a host outside mu
}

// New creates the switch namespace and the first bridge of a new network
// (up, without addresses, IPv6 and multicast snooping disabled); AddHost
// creates more as they fill.
// With an empty Options.Prefix it retries a few random prefixes if one is in
// use; an explicit prefix in use is an error (a leftover: see Cleanup).
func New(ctx context.Context, opts Options) (*Network, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ports := opts.BridgePorts
	if ports == 0 {
		ports = MaxBridgePorts
	}
	if ports < 2 || ports > MaxBridgePorts {
		return nil, fmt.Errorf("bridge ports %d: want 2 to %d", opts.BridgePorts, MaxBridgePorts)
	}
	if opts.Prefix != "" {
		if err := CheckPrefix(opts.Prefix); err != nil {
			return nil, err
		}
		return newNetwork(ctx, opts.Prefix, ports, log)
	}
	for try := 0; ; try++ {
		n, err := newNetwork(ctx, randomPrefix(), ports, log)
		if errors.Is(err, unix.EEXIST) && try < 5 {
			continue
		}
		return n, err
	}
}

func newNetwork(ctx context.Context, run string, ports int, log *slog.Logger) (*Network, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o, err := currentOwner(run)
	if err != nil {
		return nil, fmt.Errorf("identify own process: %w", err)
	}
	n := &Network{
		run:    run,
		ports:  ports,
		owner:  o,
		log:    log.With("run", run),
		byName: make(map[string]*Host),
		byAddr: make(map[netip.Addr]*Host),
	}
	if n.sw, err = createSwitch(run, o); err != nil {
		return nil, err
	}
	if err := n.addBridge(1); err != nil {
		n.sw.Close()
		return nil, errors.Join(err, deleteNetns(switchNetns(run)))
	}
	return n, nil
}

// deleteLink deletes a link in the root namespace; a missing one is not an
// error. Deleting one end of a veth pair deletes both.
func deleteLink(name string) error { return deleteLinkWith(nil, name) }

// deleteLink deletes a link of the switch, like deleteLink.
func (n *Network) deleteLink(name string) error { return deleteLinkWith(n.sw, name) }

// deleteLinkWith deletes a link in nl's namespace (nil: the root
// namespace); a missing one is not an error.
func deleteLinkWith(nl *netlink.Handle, name string) error {
	byName, del := netlink.LinkByName, netlink.LinkDel
	if nl != nil {
		byName, del = nl.LinkByName, nl.LinkDel
	}
	l, err := byName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil
	}
	if err == nil {
		err = del(l)
	}
	if err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

// Prefix returns the run prefix that all names of this network start with.
func (n *Network) Prefix() string { return n.run }

// Bridge returns the name of the first bridge (in the switch namespace),
// the only one of a network of up to BridgePorts-1 hosts.
func (n *Network) Bridge() string { return bridgeName(n.run, 1) }

// Hosts returns the hosts in the order their AddHost calls began (of calls
// from one goroutine: the order of the calls).
func (n *Network) Hosts() []*Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Host(nil), n.hosts...)
}

// Host returns the host with the given name, or nil (also while AddHost
// is still building it).
func (n *Network) Host(name string) *Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	if h := n.byName[name]; h != nil && h.ready {
		return h
	}
	return nil
}

func (n *Network) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// Close removes every namespace, the switch's too, and with them every
// veth, bridge and drop rule. It takes no context and ignores cancellation, so it
// works from a signal path or t.Cleanup; it waits for concurrent AddHost
// calls to finish. Calls after the first return nil. Processes still running
// inside a host's namespace are not killed: they keep the namespace alive,
// without network; stop them first.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	n.adding.Wait() // they see closed and undo their hosts
	n.mu.Lock()
	defer n.mu.Unlock()
	start := time.Now()
	var errs []error
	// Unmounting first is fast: the kernel destroys unused namespaces in
	// batches, each with its veth pair (100 hosts: 0.1 s instead of 3 s
	// for deleting veths one by one).
	for _, h := range n.hosts {
		errs = append(errs, deleteNetns(h.netns))
	}
	left := n.awaitVethsGone(closeWait + time.Duration(len(n.hosts))*closeWaitPerHost)
	for _, h := range n.hosts {
		if left[h.veth] { // its namespace lives on (processes, open sockets)
			errs = append(errs, n.deleteLink(h.veth))
		}
	}
	n.sw.Close()
	errs = append(errs, deleteNetns(switchNetns(n.run))) // the bridges go with it
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close network %s: %w", n.run, err)
	}
	n.log.Debug("closed network", "hosts", len(n.hosts), "bridges", len(n.bridges), "took", time.Since(start))
	return nil
}

// closeWait and closeWaitPerHost bound how long Close waits for the kernel
// to destroy the namespaces before it deletes the remaining veths itself.
const (
	closeWait        = time.Second
	closeWaitPerHost = 5 * time.Millisecond
)

// awaitVethsGone polls until none of the hosts' veths exists or timeout
// passes, and returns those still there.
func (n *Network) awaitVethsGone(timeout time.Duration) map[string]bool {
	deadline := time.Now().Add(timeout)
	for {
		left := make(map[string]bool)
		links, err := listLinksWith(n.sw)
		if err != nil {
			for _, h := range n.hosts { // cannot tell: delete them all
				left[h.veth] = true
			}
			return left
		}
		for _, l := range links {
			if name := l.Attrs().Name; isVethName(n.run, name) {
				left[name] = true
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}
