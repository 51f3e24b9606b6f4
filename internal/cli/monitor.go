package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/pmonitor/pmonitor/internal/agent"
	"github.com/pmonitor/pmonitor/internal/httpserve"
	"github.com/pmonitor/pmonitor/internal/probe"
	"github.com/pmonitor/pmonitor/internal/resultapi"
	"github.com/pmonitor/pmonitor/internal/store"
)

// Lower bounds of the agent's periods: below them an agent would spend its
// time on wakeups and its memory on probes no target could answer in time.
const (
	minInterval = 100 * time.Millisecond
	minTimeout  = time.Millisecond
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
to FALSE (pmonitor stop MASTER_DB SRC_ADDRESS), or on SIGINT, SIGTERM or
SIGHUP: its results are written and its running flag cleared (exit 0).

One agent per working database and per source address: the agent holds an
flock on WORKING_DB.lock (released by the kernel however the process ends),
and refuses to start (exit 2) when another agent holds it, when the registry
shows a live agent for SRC_ADDRESS (running, fresh heartbeat, live pid), or
when MASTER_DB and WORKING_DB are the same file. An agent whose registry row
says run = FALSE does not start (exit 1).

Example:
  pmonitor monitor master.db work-h1.db 10.0.0.1 --interval 2s --listen 127.0.0.1:9310`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		interval := fs.Duration("interval", 10*time.Second, "period between two probes of the same target; at least "+minInterval.String())
		timeout := fs.Duration("timeout", 3*time.Second, "probe deadline (like ping -W); at least "+minTimeout.String())
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
		switch {
		case *interval < minInterval:
			return usageErrorf("monitor: --interval %v: must be at least %v", *interval, minInterval)
		case *timeout < minTimeout:
			return usageErrorf("monitor: --timeout %v: must be at least %v", *timeout, minTimeout)
		case *retention < 0:
			return usageErrorf("monitor: --retention %v: must not be negative", *retention)
		case agent.SameFile(pos[0], pos[1]):
			return usageErrorf("monitor: MASTER_DB and WORKING_DB are the same file (%s)", pos[1])
		}
		// SIGHUP (a closed terminal, an orchestrator's session ending) is a
		// clean stop too, not a death that leaves running set.
		ctx, stopSignals := signal.NotifyContext(ctx, syscall.SIGHUP)
		defer stopSignals()
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
		tuneAgentMemory()
		self, err := localAddress(pos[2])
		if err != nil {
			return setupError(fmt.Errorf("monitor: %w", err))
		}
		unlock, err := agent.LockWorking(pos[1], self)
		if err != nil {
			return setupError(fmt.Errorf("monitor: %w", err))
		}
		defer unlock()
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
		cfg := agent.Config{
			Self: self,
			OpenRegistry: func(ctx context.Context) (store.Registry, error) {
				return rf.open(ctx, master)
			},
			Working: working, Prober: engine,
			Interval: *interval, Timeout: *timeout, Retention: *retention,
			OnRate: sizeProcs(), Logger: log,
			Ready: func() {
				notifySystemd(log, daemon.SdNotifyReady)
				releaseMemory()
			},
			Tidy: tidyMemory,
		}
		// The agent advertises the address actually bound (--listen may say
		// port 0), so listen first and serve once the agent exists.
		var ln net.Listener
		if *listen != "" {
			if ln, err = net.Listen("tcp", *listen); err != nil {
				return setupError(fmt.Errorf("monitor: listen %s: %w", *listen, err))
			}
			if cfg.APIURL, err = advertisedURL(*advertise, ln.Addr().String(), self); err != nil {
				ln.Close()
				return err
			}
			rf.opts.APIURL = cfg.APIURL // etcd keeps it on the agent's lease
		}
		a, err := agent.New(cfg)
		if err != nil {
			if ln != nil {
				ln.Close()
			}
			return err
		}
		if ln != nil {
			token, err := resultapi.ReadToken(*tokenFile)
			if err != nil {
				ln.Close()
				return setupError(fmt.Errorf("monitor: %w", err))
			}
			stop := httpserve.Serve(ln, withWorkingDB(a.Handler(), pos[1], token, log), log)
			defer stop()
			log.Info("serving HTTP", "addr", ln.Addr().String(), "url", cfg.APIURL)
		}
		err = a.Run(ctx)
		notifySystemd(log, daemon.SdNotifyStopping)
		var running *agent.RunningError
		switch {
		case errors.Is(err, agent.ErrNotAllowed):
			return fmt.Errorf("monitor: %w for %s; not starting", err, self)
		case errors.As(err, &running):
			return setupError(fmt.Errorf("monitor: %w", err))
		}
		return err
	}
	return c
}

// sizeProcs returns the agent's OnRate: GOMAXPROCS as agent.Procs says for
// the probe rate, unless the GOMAXPROCS environment variable sets it.
func sizeProcs() func(float64) {
	if os.Getenv("GOMAXPROCS") != "" {
		return nil
	}
	most := runtime.GOMAXPROCS(0)
	return func(perSecond float64) {
		if n := agent.Procs(perSecond, most); n != runtime.GOMAXPROCS(0) {
			runtime.GOMAXPROCS(n)
		}
	}
}

// advertisedURL is the agent's API URL for others to reach: the bound
// address, with an unspecified host (0.0.0.0, ::) replaced by the agent's
// own address.
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

// notifySystemd sends state (READY=1, STOPPING=1) to the service manager
// that started the agent, if any ($NOTIFY_SOCKET, as systemd's Type=notify
// sets it; the lab sets it too). MAINPID names the agent: a supervisor that
// started it through a wrapper still knows which one is ready.
func notifySystemd(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, fmt.Sprintf("%s\nMAINPID=%d", state, os.Getpid())); err != nil {
		log.Warn("notify the service manager", "state", state, "err", err)
	}
}
