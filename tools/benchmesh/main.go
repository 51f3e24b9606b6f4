// Command benchmesh measures a full mesh of emulated nodes, each running a
// real pmonitor agent inside its own network namespace: the time to the
// first complete matrix, the CPU and memory of all agents together, and how
// long every agent takes to see a cut node fail.
//
//	go run ./tools/benchmesh -nodes 100 -interval 10s
//
// It needs root (network namespaces). Everything it builds is torn down at
// exit; probes stay inside the emulated network.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/pmonitor/pmonitor/internal/emu"
	"github.com/pmonitor/pmonitor/internal/lab"
	"github.com/pmonitor/pmonitor/tools/internal/procstat"
)

func main() {
	emu.MaybeReexec() // lab starts agents through this binary, inside namespaces
	nodes := flag.Int("nodes", 100, "emulated nodes, each with an agent (at most 250)")
	interval := flag.Duration("interval", 10*time.Second, "agent --interval")
	timeout := flag.Duration("timeout", 3*time.Second, "agent --timeout")
	measure := flag.Duration("measure", 60*time.Second, "how long CPU and memory are measured after convergence")
	keep := flag.Bool("keep", false, "keep the databases and agent logs (the folder is printed)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *nodes, *interval, *timeout, *measure, *keep); err != nil {
		fmt.Fprintf(os.Stderr, "benchmesh: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, n int, interval, timeout, measure time.Duration, keep bool) error {
	if n < 2 || n > 250 {
		return errors.New("-nodes must be between 2 and 250")
	}
	dir, err := os.MkdirTemp("", "benchmesh")
	if err != nil {
		return err
	}
	if keep {
		fmt.Printf("keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := filepath.Join(dir, "pmonitor")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pmonitor")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build pmonitor: %w", err)
	}
	var nodes []lab.Node
	for i := 1; i <= n; i++ {
		nodes = append(nodes, lab.Node{Name: "n" + strconv.Itoa(i),
			Addr: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 79, 0, byte(i)}), 16), Stable: true, Agent: true})
	}
	t0 := time.Now()
	l, err := lab.Start(ctx, lab.Config{Dir: filepath.Join(dir, "lab"), Nodes: nodes, Interval: interval, Timeout: timeout, Exe: bin})
	if err != nil {
		return err
	}
	defer l.Close()
	started := time.Now()
	fmt.Printf("mesh: %d nodes, %d pairs, --interval %v --timeout %v; network and agents up in %v\n",
		n, n*(n-1), interval, timeout, started.Sub(t0).Round(time.Millisecond))

	wctx, cancel := context.WithTimeout(ctx, 3*interval+30*time.Second)
	defer cancel()
	if _, err := l.WaitFor(wctx, func(m lab.Matrix) bool { return m.Converged(n) }); err != nil {
		return fmt.Errorf("first complete matrix: %w", err)
	}
	converged := time.Since(started)

	pids := l.AgentPIDs()
	u0, s0 := totalCPU(pids)
	w0 := time.Now()
	select {
	case <-time.After(measure):
	case <-ctx.Done():
		return ctx.Err()
	}
	u1, s1 := totalCPU(pids)
	wall := time.Since(w0)
	user, system := u1-u0, s1-s0
	cpu := user + system
	rss := totalRSS(pids)

	// Cut the last node and time, for every other agent, when it first
	// reports the cut node failing.
	victim := nodes[n-1]
	seen := map[string]time.Duration{}
	cutAt := time.Now()
	if err := l.Cut(ctx, victim.Name); err != nil {
		return err
	}
	dctx, dcancel := context.WithTimeout(ctx, 2*(interval+timeout)+10*time.Second)
	defer dcancel()
	_, err = l.WaitFor(dctx, func(m lab.Matrix) bool {
		for _, v := range m.Agents {
			if r, ok := v.Row(victim.Addr.Addr()); ok && r.TotalCount > 0 && !r.Responded {
				if _, done := seen[v.Node.Name]; !done {
					seen[v.Node.Name] = m.Time.Sub(cutAt)
				}
			}
		}
		return len(seen) == n-1
	})
	if err != nil {
		return fmt.Errorf("cut detection (%d of %d agents saw it): %w", len(seen), n-1, err)
	}
	// The agents' own down events time the detection exactly; what the
	// polling above saw is up to 100 ms late, and the fallback.
	evs, err := l.Events(ctx, cutAt)
	if err != nil {
		return err
	}
	for _, e := range evs {
		if e.Address == victim.Addr.Addr().String() && !e.Up {
			if d := e.Time.Sub(cutAt); d < seen[e.Agent] {
				seen[e.Agent] = d
			}
		}
	}
	lat := make([]time.Duration, 0, len(seen))
	for _, d := range seen {
		lat = append(lat, d)
	}
	slices.Sort(lat)

	sum, err := l.Stop(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("\n%-34s %v (goal: interval + 2 s = %v)\n", "first complete matrix", converged.Round(time.Millisecond), interval+2*time.Second)
	fmt.Printf("%-34s %.3f cores over %v (user %.3f, system %.3f: the kernel's veth and bridge work is charged to the senders; goal: 0.5)\n",
		"all agents, CPU", cpu.Seconds()/wall.Seconds(), wall.Round(time.Second), user.Seconds()/wall.Seconds(), system.Seconds()/wall.Seconds())
	fmt.Printf("%-34s %d MB total, %.1f MB per agent\n", "all agents, RSS", rss/1024, float64(rss)/1024/float64(len(pids)))
	fmt.Printf("%-34s median %v, max %v (goal: interval + timeout = %v)\n", "cut seen by every agent",
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), interval+timeout)
	fmt.Printf("%-34s %s (%d working databases)\n", "consolidated", sum.Out, len(sum.Sources))
	return nil
}

// totalCPU sums the user and system CPU time of the processes.
func totalCPU(pids map[string]int) (user, system time.Duration) {
	for _, pid := range pids {
		u, s := procstat.CPU(pid)
		user, system = user+u, system+s
	}
	return user, system
}

// totalRSS sums the resident set sizes of the processes, in KiB.
func totalRSS(pids map[string]int) int64 {
	var total int64
	for _, pid := range pids {
		total += procstat.RSS(pid)
	}
	return total
}
