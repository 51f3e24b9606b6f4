package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/pmonitor/pmonitor/internal/agent"
	"github.com/pmonitor/pmonitor/internal/httpserve"
	"github.com/pmonitor/pmonitor/internal/probe"
	"github.com/pmonitor/pmonitor/internal/resultapi"
	"github.com/pmonitor/pmonitor/internal/store"
)

func cmdMonitor() *command {
	c := &command{
		name:    "monitor",
		args:    "MASTER_DB WORKING_DB SRC_ADDRESS",
		summary: "run the agent: probe every registry target, record results in WORKING_DB",
		help: `SRC_ADDRESS is this node's own address: probes leave from it, and its registry
row is this agent. Targets are probed in rotated order (those after this node
first), each once per --interval, spread evenly. The agent follows registry
changes within a second and stops within a second when its run flag is set
to FALSE (pmonitor stop MASTER_DB SRC_ADDRESS), or on SIGINT/SIGTERM.

Example:
  pmonitor monitor master.db work-h1.db 10.0.0.1 --interval 2s --listen 127.0.0.1:9310`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		interval := fs.Duration("interval", 10*time.Second, "period between two probes of the same target")
		timeout := fs.Duration("timeout", 3*time.Second, "probe deadline (like ping -W)")
		listen := fs.String("listen", "", "serve /healthz, /metrics and /api/status on this address (e.g. 127.0.0.1:9310)")
		retention := fs.Duration("retention", 24*time.Hour, "keep per-probe samples this long (0: no samples history)")
		logLevel := fs.String("log-level", "info", "debug, info, warn or error")
		logFormat := fs.String("log-format", "text", "text or json")
		cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file (for performance work)")
		rf := addRegistryFlags(fs)
		leaseTTL := fs.Duration("lease-ttl", 10*time.Second, "etcd MASTER_DB: the agent's liveness key disappears this long after the agent died")
		tokenFile := fs.String("api-token-file", "", "require this bearer token (first line of the file) on GET /api/v1/working.db")
		advertise := fs.String("advertise-url", "", "URL of --listen published in an etcd registry (default http://SRC_ADDRESS:PORT for a wildcard listen address)")
		pos, err := fs.parse(args, 3, 3)
		if err != nil {
			return err
		}
		if *interval <= 0 || *timeout <= 0 || *retention < 0 {
			return usageErrorf("monitor: --interval and --timeout must be positive, --retention not negative")
		}
		log, err := newLogger(e, *logLevel, *logFormat)
		if err != nil {
			return err
		}
		if *cpuProfile != "" {
			stop, err := startCPUProfile(*cpuProfile)
			if err != nil {
				return setupError(fmt.Errorf("monitor: %w", err))
			}
			defer stop()
		}
		self, err := localAddress(pos[2])
		if err != nil {
			return setupError(fmt.Errorf("monitor: %w", err))
		}
		engine, err := probe.New(ctx, probe.Config{Source: self, Logger: log})
		if err != nil {
			return setupError(fmt.Errorf("monitor: %w", err))
		}
		defer engine.Close()
		working, err := store.OpenWorking(ctx, pos[1])
		if err != nil {
			return fmt.Errorf("monitor: %w", err)
		}
		defer working.Close()
		master := pos[0]
		rf.opts.TTL, rf.opts.Logger = *leaseTTL, log
		a, err := agent.New(agent.Config{
			Self: self,
			OpenRegistry: func(ctx context.Context) (store.Registry, error) {
				return rf.open(ctx, master)
			},
			Working: working, Prober: engine,
			Interval: *interval, Timeout: *timeout, Retention: *retention,
			Logger: log,
		})
		if err != nil {
			return err
		}
		if *listen != "" {
			token, err := resultapi.ReadToken(*tokenFile)
			if err != nil {
				return setupError(fmt.Errorf("monitor: %w", err))
			}
			stop, addr, err := httpserve.Start(*listen, withWorkingDB(a.Handler(), pos[1], token, log), log)
			if err != nil {
				return setupError(fmt.Errorf("monitor: %w", err))
			}
			defer stop()
			log.Info("serving HTTP", "addr", addr)
			if rf.opts.APIURL, err = advertisedURL(*advertise, addr, self); err != nil {
				return err
			}
		}
		err = a.Run(ctx)
		if errors.Is(err, agent.ErrNotAllowed) {
			fmt.Fprintf(e.stderr, "pmonitor: monitor: %s for %s; not starting\n", err, self)
			return nil
		}
		return err
	}
	return c
}

// localAddress parses s and checks that it is an address of this host (in
// this network namespace): probes must be able to leave from it.
func localAddress(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid source address %q", s)
	}
	a = a.Unmap()
	if a.IsUnspecified() || a.IsMulticast() {
		return netip.Addr{}, fmt.Errorf("invalid source address %q: not a unicast address", s)
	}
	// Binding is the kernel's own answer to "is this address mine?".
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 0)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("source address %s is not an address of this host", a)
	}
	c.Close()
	return a, nil
}

func newLogger(e *env, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("invalid --log-level %q (want debug, info, warn or error)", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	}
	return nil, usageErrorf("invalid --log-format %q (want text or json)", format)
}

// startCPUProfile profiles the process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
