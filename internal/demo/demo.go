// Package demo is 'pmonitor demo': a lab (internal/lab) of satellites
// (stable nodes "sat1".."satN") and ground stations (dynamic nodes
// "gs1".."gsN") with a real agent on every node, in which the ground
// stations' uplinks go down and come back on a seeded random schedule. A
// live view (full screen on a terminal, one line per second otherwise)
// shows who sees whom; an optional loopback HTTP server serves the same
// state as JSON and Prometheus metrics. On exit the agents are stopped
// through the registry, everything is consolidated into an analysis
// database in a timestamped run folder, and a summary with the detection
// latency of the injected faults is returned.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pmonitor/pmonitor/internal/lab"
)

// MaxNodes bounds Config.Nodes: every node is a namespace and an agent
// process.
const MaxNodes = 100

// Config describes a demo run. Nodes, Interval, Timeout and Dir are
// required; Dynamic may be 0.
type Config struct {
	Nodes    int           // all nodes, at most MaxNodes
	Dynamic  int           // of which dynamic (ground stations)
	Interval time.Duration // agents' --interval
	Timeout  time.Duration // agents' --timeout
	For      time.Duration // run this long; 0: until ctx ends
	Listen   string        // loopback address for the HTTP API; "" for none
	Dir      string        // parent of the timestamped run folder
	Seed     uint64        // of the fault schedule; 0 picks one (reported in the Summary)
	TTY      bool          // full-screen view instead of one line per second
	Logger   *slog.Logger  // nil discards
	Exe      string        // lab.Config.Exe (tests)
	Env      []string      // lab.Config.Env (tests)
}

func (c *Config) check() error {
	switch {
	case c.Nodes < 2 || c.Nodes > MaxNodes:
		return fmt.Errorf("demo: want 2 to %d nodes, not %d", MaxNodes, c.Nodes)
	case c.Dynamic < 0 || c.Dynamic > c.Nodes:
		return fmt.Errorf("demo: want 0 to %d dynamic nodes, not %d", c.Nodes, c.Dynamic)
	case c.Interval <= 0 || c.Timeout <= 0 || c.For < 0:
		return errors.New("demo: interval and timeout must be positive, the duration not negative")
	case c.Dir == "":
		return errors.New("demo: no directory for the run folder")
	}
	if c.Listen != "" {
		if err := checkListen(c.Listen); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64N(1_000_000) + 1 // short enough to type back in
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Nodes returns the demo's nodes: stable sat1..satS on 10.77.0.x and
// dynamic gs1..gsD on 10.77.1.x (one /16 segment), each running an agent.
func Nodes(total, dynamic int) []lab.Node {
	var out []lab.Node
	for i := 1; i <= total-dynamic; i++ {
		out = append(out, lab.Node{Name: fmt.Sprintf("sat%d", i), Addr: netip.MustParsePrefix(fmt.Sprintf("10.77.0.%d/16", i)), Stable: true, Agent: true})
	}
	for i := 1; i <= dynamic; i++ {
		out = append(out, lab.Node{Name: fmt.Sprintf("gs%d", i), Addr: netip.MustParsePrefix(fmt.Sprintf("10.77.1.%d/16", i)), Agent: true})
	}
	return out
}

// demo is one run.
type demo struct {
	cfg     Config
	lab     *lab.Lab
	runDir  string
	url     string // the dashboard's, "" without --listen
	started time.Time
	sched   *schedule // main loop only
	faults  faultLog  // main loop only

	mu     sync.Mutex
	latest Snapshot // what the HTTP API serves
}

func (d *demo) round() time.Duration { return d.cfg.Interval + d.cfg.Timeout }

func (d *demo) publish(s Snapshot) {
	d.mu.Lock()
	d.latest = s
	d.mu.Unlock()
}

func (d *demo) snapshotLatest() Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.latest
}

// Run runs the demo until cfg.For has passed or ctx ends (Ctrl-C), writing
// the view to out, then stops the agents through the registry, consolidates
// and tears the network down. The Summary is valid whenever its Analysis
// is set, even with an error.
func Run(ctx context.Context, cfg Config, out io.Writer) (Summary, error) {
	if err := cfg.check(); err != nil {
		return Summary{}, err
	}
	runDir, err := makeRunDir(cfg.Dir, time.Now())
	if err != nil {
		return Summary{}, err
	}
	nodes := Nodes(cfg.Nodes, cfg.Dynamic)
	l, err := lab.Start(ctx, lab.Config{Dir: runDir, Nodes: nodes, Interval: cfg.Interval, Timeout: cfg.Timeout,
		Exe: cfg.Exe, Env: cfg.Env, Logger: cfg.Logger})
	if err != nil {
		return Summary{RunDir: runDir}, fmt.Errorf("demo: %w", err)
	}
	defer l.Close()
	d := &demo{cfg: cfg, lab: l, runDir: runDir, started: time.Now()}
	var dynamic []string
	for _, n := range nodes[cfg.Nodes-cfg.Dynamic:] {
		dynamic = append(dynamic, n.Name)
	}
	d.sched = newSchedule(dynamic, cfg.Seed, d.started, d.round())
	stopDash := func() {}
	if cfg.Listen != "" {
		stopDash, d.url, err = d.dashboard(ctx)
		if err != nil {
			return Summary{RunDir: runDir}, fmt.Errorf("demo: %w", err)
		}
		defer stopDash()
		fmt.Fprintf(out, "pmonitor demo: dashboard on %s\n", d.url)
	}
	if !cfg.TTY {
		fmt.Fprintf(out, "pmonitor demo: %d nodes (%d dynamic), network %s, run folder %s, interval %v, timeout %v, seed %d\n",
			cfg.Nodes, cfg.Dynamic, l.Prefix(), runDir, cfg.Interval, cfg.Timeout, cfg.Seed)
	}
	loopErr := d.loop(ctx, out)
	stopDash() // before the agents stop: consolidation needs no reader

	fmt.Fprintf(out, "\nstopping %d agents (UPDATE targets SET run = FALSE), consolidating, removing network %s...\n", len(nodes), l.Prefix())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	end := time.Now()
	cs, stopErr := l.Stop(sctx)
	sum := d.summarize(sctx, cs, end)
	return sum, errors.Join(loopErr, stopErr)
}

// loop applies the fault schedule and refreshes the view every second
// until the run's time is up or ctx ends.
func (d *demo) loop(ctx context.Context, out io.Writer) error {
	if d.cfg.For > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.cfg.For)
		defer cancel()
	}
	view := time.NewTicker(time.Second)
	defer view.Stop()
	var faultC <-chan time.Time
	var timer *time.Timer
	if at := d.sched.nextAt(); !at.IsZero() {
		timer = time.NewTimer(time.Until(at))
		defer timer.Stop()
		faultC = timer.C
	}
	first := true
	for {
		if err := d.refresh(ctx, out, first); err != nil {
			return err
		}
		first = false
		select {
		case <-ctx.Done():
			return nil
		case <-view.C:
		case <-faultC:
			now := time.Now()
			for _, f := range d.sched.due(now) {
				if err := d.setLink(ctx, f); err != nil {
					return err
				}
				d.faults.apply(f, time.Now())
			}
			timer.Reset(time.Until(d.sched.nextAt()))
		}
	}
}

func (d *demo) setLink(ctx context.Context, f flip) error {
	if f.up {
		return d.lab.Restore(ctx, f.node)
	}
	return d.lab.Cut(ctx, f.node)
}

// refresh reads a snapshot, publishes it and draws it. A failed read is
// logged and skipped: the next second tries again.
func (d *demo) refresh(ctx context.Context, out io.Writer, first bool) error {
	s, err := d.snapshot(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Logger.Warn("demo: read the working databases", "err", err)
		}
		return nil
	}
	d.publish(s)
	if d.cfg.TTY {
		return renderFrame(out, s, first)
	}
	return renderLine(out, s)
}

// makeRunDir creates dir/YYYYMMDD-HHMMSS (with a -2, -3... suffix if
// taken) and returns it.
func makeRunDir(dir string, now time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	base := filepath.Join(dir, now.Format("20060102-150405"))
	for i := 1; i < 100; i++ {
		p := base
		if i > 1 {
			p = fmt.Sprintf("%s-%d", base, i)
		}
		err := os.Mkdir(p, 0o755)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("demo: %w", err)
		}
	}
	return "", fmt.Errorf("demo: no free run folder name under %s", dir)
}
