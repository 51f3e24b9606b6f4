// Command benchetcd compares the two registries under N agents: three etcd
// members (the Debian etcd-server binary, loopback ports) against one
// SQLite file, in the same run. For each it prints how long an edit takes
// to reach every agent (p50, p99), the agents' CPU while idle and, for
// etcd, the members' CPU.
//
//	go run ./tools/benchetcd -agents 200 -edits 20 -idle 30s
//
// It needs root (raw ICMP sockets) and /usr/bin/etcd. Agents probe only
// 127.0.0.0/8. Figures are meaningful on an otherwise quiet machine.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/pmonitor/pmonitor/internal/registry"
	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/tools/internal/procstat"
)

func main() {
	agents := flag.Int("agents", 200, "agent processes (loopback addresses 127.0.1.1 ...)")
	edits := flag.Int("edits", 20, "target edits measured (an add and a remove count as two)")
	idle := flag.Duration("idle", 30*time.Second, "idle period over which CPU is measured")
	interval := flag.Duration("interval", 10*time.Second, "agents' --interval")
	flag.Parse()
	if err := run(*agents, *edits, *idle, *interval); err != nil {
		fmt.Fprintf(os.Stderr, "benchetcd: %v\n", err)
		os.Exit(1)
	}
}

// result is one registry's figures.
type result struct {
	name             string
	p50, p99, max    time.Duration
	agentCPU, regCPU float64 // cores while idle
}

func run(agents, edits int, idle, interval time.Duration) error {
	dir, err := os.MkdirTemp("", "benchetcd-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "pmonitor")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/pmonitor").CombinedOutput(); err != nil {
		return fmt.Errorf("build pmonitor: %v\n%s", err, out)
	}
	ctx := context.Background()
	var results []result

	// SQLite first, then etcd: the same agents, targets and edits.
	sqlite := filepath.Join(dir, "master.db")
	r, err := measure(ctx, "sqlite", bin, sqlite, filepath.Join(dir, "sqlite"), nil, agents, edits, idle, interval)
	if err != nil {
		return err
	}
	results = append(results, r)

	cluster, err := startCluster(filepath.Join(dir, "etcd"))
	if err != nil {
		return err
	}
	defer cluster.stop()
	r, err = measure(ctx, "etcd (3 members)", bin, cluster.url("/bench"), filepath.Join(dir, "etcd-agents"), cluster.pids(), agents, edits, idle, interval)
	if err != nil {
		return err
	}
	results = append(results, r)

	fmt.Printf("\n%d agents, %d edits, idle CPU over %v, agents' --interval %v\n", agents, edits, idle, interval)
	fmt.Printf("%-18s %12s %12s %12s %16s %16s\n", "registry", "edit p50", "edit p99", "edit max", "agents (cores)", "etcd (cores)")
	for _, r := range results {
		reg := "-"
		if r.regCPU >= 0 {
			reg = fmt.Sprintf("%.3f", r.regCPU)
		}
		fmt.Printf("%-18s %12v %12v %12v %16.3f %16s\n", r.name, r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond),
			r.max.Round(time.Millisecond), r.agentCPU, reg)
	}
	return nil
}

// measure starts the agents on spec, waits until they run, measures idle
// CPU, then the edits, and stops them.
func measure(ctx context.Context, name, bin, spec, dir string, regPIDs []int, agents, edits int, idle, interval time.Duration) (result, error) {
	res := result{name: name, regCPU: -1}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	reg, err := registry.Create(ctx, spec, registry.Options{})
	if err != nil {
		return res, err
	}
	defer reg.Close()
	var ts []store.Target
	for i := range agents {
		ts = append(ts, store.Target{Address: agentAddr(i), Name: fmt.Sprintf("a%d", i), Stable: true, Run: true})
	}
	if err := reg.Replace(ctx, ts); err != nil {
		return res, err
	}
	fleet, err := startAgents(bin, spec, dir, agents, interval)
	if err != nil {
		return res, err
	}
	defer fleet.stop()
	fmt.Fprintf(os.Stderr, "%s: %d agents starting\n", name, agents)
	if err := fleet.awaitAll(time.Now().Add(-time.Hour), agents-1, 5*time.Minute); err != nil {
		return res, fmt.Errorf("%s: agents did not start: %w", name, err)
	}

	// Idle: no edits, agents probing and watching.
	time.Sleep(2 * time.Second) // let start-up work settle
	a0, r0 := fleet.cpu(), cpuOf(regPIDs)
	t0 := time.Now()
	time.Sleep(idle)
	el := time.Since(t0).Seconds()
	res.agentCPU = (fleet.cpu() - a0).Seconds() / el
	if regPIDs != nil {
		res.regCPU = (cpuOf(regPIDs) - r0).Seconds() / el
	}

	extra := store.Target{Address: "127.0.0.254", Name: "extra", Stable: true, Run: true}
	var all []time.Duration
	for i := range edits {
		since := time.Now()
		want := agents - 1
		if i%2 == 0 {
			err, want = reg.Add(ctx, extra), agents
		} else {
			err = reg.Remove(ctx, extra.Address)
		}
		if err != nil {
			return res, err
		}
		ds, err := fleet.latencies(since, want, 30*time.Second)
		if err != nil {
			return res, fmt.Errorf("%s: edit %d: %w", name, i, err)
		}
		all = append(all, ds...)
	}
	if edits%2 == 1 {
		reg.Remove(ctx, extra.Address)
	}
	slices.Sort(all)
	if len(all) > 0 {
		res.p50, res.p99, res.max = all[len(all)/2], all[min(len(all)-1, len(all)*99/100)], all[len(all)-1]
	}
	return res, nil
}

func agentAddr(i int) string { return fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250) }

func cpuOf(pids []int) time.Duration {
	var d time.Duration
	for _, p := range pids {
		u, s := procstat.CPU(p)
		d += u + s
	}
	return d
}
