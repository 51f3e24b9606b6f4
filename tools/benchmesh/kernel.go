package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pmonitor/pmonitor/internal/emu"
	"github.com/pmonitor/pmonitor/internal/lab"
	"github.com/pmonitor/pmonitor/tools/internal/procstat"
)

// subnet holds the benchmark's addresses: 10.79.0.1, ..., 10.79.19.136
// for 5,000 nodes.
var subnet = netip.MustParsePrefix("10.79.0.0/16")

// kernelCounts is what 'ip netns list' and 'ip link' count, and the
// kernel's object caches.
type kernelCounts struct {
	netns, links int
	slabKB       int64
}

func countKernel() (kernelCounts, error) {
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return kernelCounts{}, fmt.Errorf("list namespaces: %w", err)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return kernelCounts{}, fmt.Errorf("list links: %w", err)
	}
	return kernelCounts{netns: len(entries), links: len(ifs), slabKB: procstat.Meminfo("Slab")}, nil
}

// networkOnly builds the emulated network of the mesh without agents, pins
// the neighbour entries and tears it down, timing each step.
func networkOnly(ctx context.Context, c config) error {
	nodes, err := lab.MeshNodes(subnet, c.nodes)
	if err != nil {
		return err
	}
	slab0 := procstat.Meminfo("Slab")
	t0 := time.Now()
	n, err := emu.New(ctx, emu.Options{BridgePorts: c.bridgePorts})
	if err != nil {
		return err
	}
	defer n.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4) // as the lab does
	for _, nd := range nodes {
		g.Go(func() error {
			_, err := n.AddHost(gctx, nd.Name, nd.Addr)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	t1 := time.Now()
	slabHosts := procstat.Meminfo("Slab")
	if err := n.PinNeighbors(ctx); err != nil {
		return err
	}
	t2 := time.Now()
	slab1 := procstat.Meminfo("Slab")
	prefix := n.Prefix()
	if err := n.Close(); err != nil {
		return err
	}
	t3 := time.Now()
	left, err := lab.Leftovers(prefix)
	if err != nil {
		return err
	}
	pairs := c.nodes * (c.nodes - 1)
	fmt.Printf("network: %d hosts, %d bridge(s), %d neighbour entries\n", c.nodes, len(n.Bridges()), pairs)
	fmt.Printf("%-30s %v (%v per host)\n", "hosts built", t1.Sub(t0).Round(time.Millisecond), (t1.Sub(t0) / time.Duration(c.nodes)).Round(time.Microsecond))
	fmt.Printf("%-30s %v (%v per entry)\n", "neighbours pinned", t2.Sub(t1).Round(time.Millisecond), (t2.Sub(t1) / time.Duration(pairs)).Round(10*time.Nanosecond))
	fmt.Printf("%-30s %s more slab: hosts %s (%.0f KB each), neighbour entries %s (%.0f bytes each)\n", "kernel memory",
		mb(slab1-slab0), mb(slabHosts-slab0), float64(slabHosts-slab0)/float64(c.nodes),
		mb(slab1-slabHosts), float64(slab1-slabHosts)*1024/float64(pairs))
	fmt.Printf("%-30s %v; left: %s\n", "teardown", t3.Sub(t2).Round(time.Millisecond), orNothing(left))
	return nil
}

func orNothing(items []string) string {
	if len(items) == 0 {
		return "nothing"
	}
	return strings.Join(items, ", ")
}

// mb formats KiB as MB.
func mb(kb int64) string { return fmt.Sprintf("%.0f MiB", float64(kb)/1024) }

// warnInotify says when the agents will outnumber the inotify instances a
// user may hold: the agents beyond the limit poll the registry twice a
// second instead of waiting for its changes, and cost more.
func warnInotify(agents int) {
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_instances")
	if err != nil {
		return
	}
	var limit int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &limit); err != nil || agents+16 <= limit {
		return
	}
	fmt.Printf("note: fs.inotify.max_user_instances is %d for %d agents: those beyond it poll the registry "+
		"(sysctl -w fs.inotify.max_user_instances=%d for honest figures)\n", limit, agents, 2*agents+128)
}
