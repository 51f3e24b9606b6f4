// Package lab runs real pmonitor agents in an emulated network: one network
// namespace per node name (internal/emu), a registry written the way
// 'pmonitor init' writes it, and one 'pmonitor monitor' process per agent
// node, started inside its namespace. It is what 'pmonitor test',
// 'pmonitor demo', the end-to-end tests and the scale benchmarks share.
//
// A Lab reads the agents' working databases read-only (Status, Matrix,
// Events, WaitFor), injects faults (Cut, Restore), and ends either with
// Stop, which stops the agents through the registry's run flag and
// consolidates their databases, or with Close, which tears everything down.
// Close must run on every exit path (defer, signal, t.Cleanup): it kills
// agents still running and removes every namespace, veth and the bridge.
// Everything needs root.
package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/pmonitor/pmonitor/internal/emu"
)

// Node is one registry row: an address on an emulated host.
type Node struct {
	// Name is the node (host) name. Nodes with the same name share one
	// host: one namespace holding all their addresses.
	Name string
	// Addr is the node's address with its subnet, e.g. 10.77.0.5/16.
	Addr netip.Prefix
	// Stable is the registry's stable flag.
	Stable bool
	// Agent runs an agent with this address as its SRC_ADDRESS.
	Agent bool
}

// Config describes a lab. Dir and Nodes are required.
type Config struct {
	// Dir holds master.db, work-<agent>.db, agent-<agent>.log and, after
	// Stop, analysis.db. It is created if missing and must not hold a
	// master.db already.
	Dir string
	// Nodes in registry order (as 'pmonitor init' inserts them).
	Nodes []Node
	// Interval and Timeout are the agents' --interval and --timeout;
	// default 1s each.
	Interval, Timeout time.Duration
	// Exe is the pmonitor binary run inside the namespaces; default
	// os.Executable(). It must call emu.MaybeReexec first thing.
	Exe string
	// Env is added to the agents' environment (tests use it to make a test
	// binary behave as pmonitor).
	Env []string
	// AgentArgs are appended to every agent's command line.
	AgentArgs []string
	// Prefix is the emulated network's run prefix (see emu.Options);
	// "" picks a random one.
	Prefix string
	// BridgePorts is the emulated network's emu.Options.BridgePorts: 0
	// puts up to 1,022 hosts on one bridge; tests lower it to spread a few
	// hosts over several bridges.
	BridgePorts int
	// StartSpread spreads the agents' starts evenly over this long, in
	// registry order, so that a thousand agents neither open their
	// databases nor run their first rounds all at once. 0 means
	// DefaultStartGap per agent, at most half an Interval (an agent's first
	// round takes half an interval, so the matrix is complete one interval
	// after the first start); negative starts them back to back. Either
	// way, at most two agents per core are starting at a time: the next
	// starts when one reports ready (sd_notify READY=1) or exits.
	StartSpread time.Duration
	// StopTimeout bounds how long Stop waits for the agents to exit on
	// their own before it kills them; default 10s.
	StopTimeout time.Duration
	// Logger receives the lab's progress at debug level; nil discards it.
	Logger *slog.Logger
}

// File names inside Config.Dir.
const (
	MasterFile   = "master.db"
	AnalysisFile = "analysis.db"
)

// Lab is a running emulated network with its agents. Its methods are safe
// for concurrent use.
type Lab struct {
	cfg      Config
	log      *slog.Logger
	net      *emu.Network
	master   string
	agents   []*agent // in Nodes order
	spawn    *spawner
	ready    *readyGate // paces the agents' starts; nil before start
	headroom *headroom  // holds starts back while the cores are busy; nil before start
	dbs      dbCache

	timings Timings

	mu      sync.Mutex
	linkUp  map[string]bool // by host name
	stopped bool            // Stop has begun: agent exits are expected

	closeOnce sync.Once
	closeErr  error
}

// Start builds the network, writes the registry and starts the agents. It
// returns once every agent process has started, not when they have
// converged: use WaitFor. On error nothing is left behind.
func Start(ctx context.Context, cfg Config) (*Lab, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	l := &Lab{
		cfg:    cfg,
		log:    cfg.Logger,
		master: filepath.Join(cfg.Dir, MasterFile),
		linkUp: map[string]bool{},
	}
	if err := l.start(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("lab: %w", err), l.Close())
	}
	return l, nil
}

func (cfg *Config) check() error {
	if cfg.Dir == "" || len(cfg.Nodes) == 0 {
		return errors.New("lab: Dir and Nodes are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("lab: find own executable: %w", err)
		}
		cfg.Exe = exe
	}
	cfg.Nodes = slices.Clone(cfg.Nodes)
	seen := map[netip.Addr]bool{}
	for _, n := range cfg.Nodes {
		if !n.Addr.IsValid() || n.Addr.Addr().Zone() != "" {
			return fmt.Errorf("lab: node %s: invalid address %q", n.Name, n.Addr)
		}
		if seen[n.Addr.Addr()] {
			return fmt.Errorf("lab: node %s: duplicate address %s", n.Name, n.Addr.Addr())
		}
		seen[n.Addr.Addr()] = true
	}
	return nil
}

// Dir returns the directory of the databases and logs.
func (l *Lab) Dir() string { return l.cfg.Dir }

// Master returns the registry's path.
func (l *Lab) Master() string { return l.master }

// Prefix returns the run prefix of every namespace and link of the lab.
func (l *Lab) Prefix() string { return l.net.Prefix() }

// Nodes returns the nodes in registry order.
func (l *Lab) Nodes() []Node { return slices.Clone(l.cfg.Nodes) }

// Config returns the configuration with its defaults filled in.
func (l *Lab) Config() Config {
	c := l.cfg
	c.Nodes = slices.Clone(c.Nodes)
	return c
}

// HostNames returns the distinct node names (one host each) in registry order.
func (l *Lab) HostNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, n := range l.cfg.Nodes {
		if !seen[n.Name] {
			seen[n.Name] = true
			names = append(names, n.Name)
		}
	}
	return names
}

// Cut takes host's uplink down (emu.Host.SetLink): every address of the
// host stops answering and its agents stop reaching anyone.
func (l *Lab) Cut(ctx context.Context, host string) error { return l.setLink(ctx, host, false) }

// Restore brings host's uplink back up.
func (l *Lab) Restore(ctx context.Context, host string) error { return l.setLink(ctx, host, true) }

func (l *Lab) setLink(ctx context.Context, host string, up bool) error {
	h := l.net.Host(host)
	if h == nil {
		return fmt.Errorf("lab: unknown host %q", host)
	}
	if err := h.SetLink(ctx, up); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	l.mu.Lock()
	l.linkUp[host] = up
	l.mu.Unlock()
	l.log.Debug("link changed", "host", host, "up", up)
	return nil
}

// LinkUp reports whether host's uplink is up (false for an unknown host).
func (l *Lab) LinkUp(host string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.linkUp[host]
}
