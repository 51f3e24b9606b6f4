// Command benchmesh measures a full mesh of emulated nodes, each running a
// real pmonitor agent inside its own network namespace: the time to the
// first complete matrix, the CPU (user, system, per probe, per agent) and
// memory (PSS) of all agents together, how long every agent takes to see a
// cut node fail, and whether the teardown leaves anything in the kernel.
//
//	go run ./tools/benchmesh -nodes 1000 -interval 30s    # the scale figures
//	go run ./tools/benchmesh -idle                         # 100 agents at --interval 60s: the idle cost
//	go run ./tools/benchmesh -network-only -nodes 1000     # namespaces and neighbour entries only
//
// It needs root (network namespaces). Everything it builds is torn down at
// exit; probes stay inside the emulated network. Figures are only worth
// keeping from a machine that runs nothing else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pmonitor/pmonitor/internal/emu"
)

// maxNodes bounds -nodes: the addresses come from one /16, and past a few
// thousand nodes the kernel's neighbour tables alone take gigabytes.
const maxNodes = 5000

// config is what the flags ask for.
type config struct {
	nodes             int
	interval, timeout time.Duration
	measure           time.Duration // CPU window after the first complete matrix
	spread            time.Duration // lab.Config.StartSpread
	bridgePorts       int
	idle, cut         bool
	networkOnly, keep bool
	agentTags         string // go build -tags of the agents' binary
}

func main() {
	emu.MaybeReexec() // lab starts agents through this binary, inside namespaces
	var c config
	flag.IntVar(&c.nodes, "nodes", 100, fmt.Sprintf("emulated nodes, each with an agent (2 to %d)", maxNodes))
	flag.DurationVar(&c.interval, "interval", 10*time.Second, "agent --interval")
	flag.DurationVar(&c.timeout, "timeout", 3*time.Second, "agent --timeout")
	flag.DurationVar(&c.measure, "measure", 60*time.Second, "how long CPU is measured after the first complete matrix")
	flag.DurationVar(&c.spread, "spread", 0, "spread the agents' starts over this long (0: the lab's default, 15 ms per agent up to half an interval)")
	flag.IntVar(&c.bridgePorts, "bridge-ports", 0, "ports per bridge (0: the kernel's 1,023); lower it to measure several bridges")
	flag.BoolVar(&c.idle, "idle", false, "the near-idle case: defaults -nodes 100 -interval 60s -measure 120s, no cut; prints the idle cost per agent")
	flag.BoolVar(&c.networkOnly, "network-only", false, "build and tear down the network only (no agents): set-up times and kernel memory")
	flag.StringVar(&c.agentTags, "agent-tags", "pmonitor_omit_etcd", "build tags of the agents' pmonitor: the default leaves out the etcd client, which agents of an emulation (one file registry) never use and whose protobuf and gRPC tables are 0.5 MB of live heap in each agent; -agent-tags '' measures the full build")
	flag.BoolVar(&c.keep, "keep", false, "keep the databases and agent logs (the folder is printed)")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.cut = !c.idle
	if c.idle {
		preset(set, &c.nodes, "nodes", 100)
		preset(set, &c.interval, "interval", 60*time.Second)
		preset(set, &c.measure, "measure", 120*time.Second)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintf(os.Stderr, "benchmesh: %v\n", err)
		os.Exit(1)
	}
}

// preset sets *v to def unless the flag name was given.
func preset[T any](set map[string]bool, v *T, name string, def T) {
	if !set[name] {
		*v = def
	}
}

func run(ctx context.Context, c config) error {
	if c.nodes < 2 || c.nodes > maxNodes {
		return fmt.Errorf("-nodes must be between 2 and %d", maxNodes)
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces)")
	}
	before, err := countKernel()
	if err != nil {
		return err
	}
	if c.networkOnly {
		err = networkOnly(ctx, c)
	} else {
		err = mesh(ctx, c)
	}
	if err != nil {
		return err
	}
	after, err := countKernel()
	if err != nil {
		return err
	}
	fmt.Printf("%-30s namespaces %d → %d, links %d → %d, slab %s → %s (counts of the whole machine)\n", "kernel before → after",
		before.netns, after.netns, before.links, after.links, mb(before.slabKB), mb(after.slabKB))
	return nil
}

// buildPmonitor builds the pmonitor binary that the agents run into dir,
// with the build tags tags.
func buildPmonitor(dir, tags string) (string, error) {
	bin := filepath.Join(dir, "pmonitor")
	build := exec.Command("go", "build", "-tags", tags, "-o", bin, "./cmd/pmonitor")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build pmonitor (run from the repository's root): %w", err)
	}
	return bin, nil
}

// workDir makes the folder of databases and logs, and the function that
// removes it unless keep.
func workDir(keep bool) (string, func(), error) {
	dir, err := os.MkdirTemp("", "benchmesh")
	if err != nil {
		return "", nil, err
	}
	if keep {
		fmt.Printf("keeping %s\n", dir)
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
