// Package agent is the process that runs on every node: it walks the
// registry's targets in its rotated order, probes each once per interval,
// and records the results in its working database. It follows the registry
// (targets added or removed, its own run flag) within a second, and writes
// in batched transactions so a crash loses at most the last batch.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pmonitor/pmonitor/internal/probe"
	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/timerfd"
)

// Prober sends probes; *probe.Engine implements it and tests pass a fake.
// A Prober that also has Stats() probe.Stats (the engine does) has its
// socket drop count exported.
type Prober interface {
	Send(target netip.Addr, timeout time.Duration, done func(probe.Result)) error
}

// WorkingDB is the agent's working database; *store.Working implements it
// and tests wrap it to make writes fail.
type WorkingDB interface {
	SetMe(ctx context.Context, address, name string, stable bool, now time.Time) error
	SyncTargets(ctx context.Context, targets []store.Target) error
	States(ctx context.Context) (map[string]store.TargetState, error)
	Write(ctx context.Context, b store.Batch) error
	Prune(ctx context.Context, before time.Time) (int64, error)
	SetStopped(ctx context.Context, now time.Time) error
	SaveRegistryCache(ctx context.Context, targets []store.Target) error
	RegistryCache(ctx context.Context) ([]store.Target, error)
}

// Config describes one agent. Self, OpenRegistry, Working and Prober are
// required; zero durations take the defaults.
type Config struct {
	Self         netip.Addr                                        // the agent's own address (SRC_ADDRESS)
	OpenRegistry func(ctx context.Context) (store.Registry, error) // called again after registry errors
	Working      WorkingDB
	Prober       Prober
	APIURL       string // where the agent's HTTP API is served, advertised in the registry; "" for none

	Interval  time.Duration // between two probes of one target; default 10s
	Timeout   time.Duration // per probe; default 3s
	Retention time.Duration // samples history kept; 0 keeps none
	Flush     time.Duration // how long results wait in memory before a write; default half of Interval, within 2s..30s (state changes are written at once)
	Watch     time.Duration // registry poll period when the registry cannot announce changes; default 500ms
	Recheck   time.Duration // registry safety poll when it announces changes; default 30s
	Heartbeat time.Duration // registry heartbeat period; default 30s, longer for registries of more than 9 agents (heartbeatPlan); the working db's me row beats at every write, and at least every 30s
	BusyGrace time.Duration // how long the registry may stay locked by other writers before pmonitor_registry_up reports it down; default 30s

	// OnRate, if set, is called with the probe rate (probes per second)
	// whenever the target list changes; the monitor command sizes
	// GOMAXPROCS with it (see Procs).
	OnRate func(perSecond float64)

	// Ready, if set, is called once the agent has started: its databases
	// are open, its targets applied and its running flag set (or
	// scheduled), and probing begins. The monitor command tells systemd
	// (sd_notify READY=1), which also lets the lab start a thousand agents
	// at the pace the machine takes them.
	Ready func()

	// Tidy, if set, is called after a batch write, at most once per
	// TidyEvery: the moment a burst's garbage is dead and the next burst
	// is far. The monitor command returns the freed heap to the OS then.
	Tidy      func()
	TidyEvery time.Duration // default Interval, and at least 30s

	Logger *slog.Logger
	Now    func() time.Time // default time.Now
}

func (c *Config) defaults() error {
	switch {
	case !c.Self.IsValid():
		return errors.New("agent: no source address")
	case c.OpenRegistry == nil || c.Working == nil || c.Prober == nil:
		return errors.New("agent: registry, working database and prober are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Interval, 10*time.Second)
	def(&c.Timeout, 3*time.Second)
	// A write costs about as much as a hundred samples: an idle agent
	// writes twice a minute (the me row's heartbeat, flushHeartbeat, sets
	// the slowest pace), not at every probe. A crash loses what waits (at
	// most one and a half periods: 45 s).
	def(&c.Flush, min(max(c.Interval/2, 2*time.Second), flushHeartbeat))
	// A registry that announces changes (inotify on a file) is checked when
	// it does and on the slow safety poll; one that cannot is polled twice
	// a second.
	def(&c.TidyEvery, max(c.Interval, minTidy))
	def(&c.Watch, 500*time.Millisecond)
	def(&c.Recheck, 30*time.Second)
	def(&c.Heartbeat, 30*time.Second)
	def(&c.BusyGrace, 30*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// ErrNotAllowed reports that the registry says run = FALSE for this agent.
var ErrNotAllowed = errors.New("run = FALSE in the registry")

// Agent is one running monitor. Create it with New, then call Run once.
//
// Locks are by concern so that a scrape never holds up the probe receiver:
// mu guards the target list (written only when the registry changes), each
// target has its own lock, the pacer and the pending batch have theirs, and
// counters are atomics.
type Agent struct {
	cfg Config
	log *slog.Logger

	writeMu sync.Mutex  // one batch written at a time, in order
	applied appliedList // the list last applied; watcher goroutine only

	mu      sync.RWMutex
	name    string
	stable  bool
	targets map[netip.Addr]*target
	order   []netip.Addr // probe order, as the pacer has it

	pacerMu sync.Mutex
	pacer   pacer

	pendMu     sync.Mutex
	pending    store.Batch
	flushTimer *timerfd.Timer // fires when the pending batch or the me row's heartbeat is due; nil outside Run
	flushDue   time.Time      // when the pending batch is due; zero while none waits or while writing

	stats  counters
	health health

	kickFlush chan struct{} // a state change wants an early write
	kickProbe chan struct{} // the order changed
	stopped   chan struct{} // closed when Run returns
}

// counters are the agent's cumulative figures for metrics and /api/status.
type counters struct {
	sent, answered, failed atomic.Uint64
	localDrops             atomic.Uint64 // timeouts not counted: replies dropped by this host
	skipped                atomic.Uint64 // sends skipped: the target had maxInFlight probes pending
	flushErrors            atomic.Uint64
	registryErrors         atomic.Uint64
	lastFlush              atomic.Int64 // nanoseconds
	lastSend               atomic.Int64 // agent clock, UnixNano, of the last probe the prober took
	firstAnswers           atomic.Int64 // targets that answered for the first time
	allAnswered            atomic.Bool  // "every target answered" was logged
	started                time.Time    // set before the loops start
}

// New checks cfg and returns an agent ready to Run.
func New(cfg Config) (*Agent, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	a := &Agent{
		cfg:       cfg,
		log:       cfg.Logger.With("agent", cfg.Self.String()),
		targets:   map[netip.Addr]*target{},
		pacer:     pacer{interval: cfg.Interval},
		kickFlush: make(chan struct{}, 1),
		kickProbe: make(chan struct{}, 1),
		stopped:   make(chan struct{}),
	}
	a.stats.started = cfg.Now()
	a.stats.lastSend.Store(a.stats.started.UnixNano())
	return a, nil
}

// Run monitors until ctx ends or the registry sets run = FALSE for this
// agent; both are a clean stop (nil). Before returning it writes what it
// recorded and clears its running flag.
func (a *Agent) Run(ctx context.Context) error {
	defer close(a.stopped)
	a.stats.lastSend.Store(a.cfg.Now().UnixNano())
	reg, targets, err := a.initialTargets(ctx) // reg is nil when started on the cached list
	if err != nil || (reg == nil && targets == nil) {
		return a.stoppedStarting(ctx, err)
	}
	defer func() {
		if reg != nil {
			reg.Close()
		}
	}()
	if me, ok := find(targets, a.cfg.Self); ok {
		if !me.Run {
			return ErrNotAllowed
		}
		// Fresh: within a few registry heartbeats of the period that the
		// agents of this registry use. A cached list says nothing about who
		// runs now.
		if reg != nil {
			period, _ := heartbeatPlan(a.cfg.Heartbeat, len(targets))
			if err := aliveElsewhere(me, a.cfg.Now(), 3*period); err != nil {
				return err
			}
		}
	}
	registered, err := a.start(ctx, reg, targets)
	if err != nil {
		return a.stoppedStarting(ctx, err)
	}
	a.log.Info("agent started", "targets", len(a.pacer.order), "interval", a.cfg.Interval, "timeout", a.cfg.Timeout)
	if a.cfg.Ready != nil {
		a.cfg.Ready()
	}

	ft, err := timerfd.New()
	if err != nil {
		return fmt.Errorf("agent: flush timer: %w", err)
	}
	a.pendMu.Lock()
	a.flushTimer = ft
	a.pendMu.Unlock()
	flushDue := ft.Chan()
	defer ft.Close()

	w := &watcher{a: a, reg: reg, register: reg != nil && !registered}
	loops, lctx := errgroup.WithContext(ctx)
	loops.Go(func() error { return a.probeLoop(lctx) })
	loops.Go(func() error { return a.flushLoop(lctx, flushDue) })
	loops.Go(func() error { return w.loop(lctx) })
	err = loops.Wait()
	reg = w.reg // the watcher may have reopened it

	// Clean exit: results first, then the flags.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	flushErr := a.flush(bg)
	now := a.cfg.Now()
	if e := a.cfg.Working.SetStopped(bg, now); e != nil {
		a.log.Warn("mark stopped in working db", "err", e)
	}
	if reg != nil {
		e := retryBusy(bg, func() error { return reg.SetRunning(bg, a.cfg.Self.String(), false, os.Getpid(), now) })
		if e != nil && !errors.Is(e, store.ErrUnknownTarget) {
			a.log.Warn("clear running flag", "err", e)
		}
		if a.cfg.APIURL != "" {
			if e := retryBusy(bg, func() error { return reg.SetAPIURL(bg, a.cfg.Self.String(), "") }); e != nil && !errors.Is(e, store.ErrUnknownTarget) {
				a.log.Warn("clear api url", "err", e)
			}
		}
	}
	switch {
	case errors.Is(err, errStopRequested):
		a.log.Info("agent stopped by the registry (run = FALSE)")
		return flushErr
	case err != nil && ctx.Err() == nil:
		return err
	}
	a.log.Info("agent stopped")
	return flushErr
}

// stoppedStarting returns the error that ended the start, or nil when ctx
// ended it: a stop asked for while the agent starts (SIGINT during its
// first reads) is a clean stop like any other, and the me row, if written
// already, says stopped.
func (a *Agent) stoppedStarting(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if e := a.cfg.Working.SetStopped(bg, a.cfg.Now()); e != nil {
		a.log.Warn("mark stopped in working db", "err", e)
	}
	a.log.Info("agent stopped while starting")
	return nil
}

// start writes the me row, aligns the working database with the registry,
// restores the counts of an earlier run and sets running. registered is
// false when the running flag could not be set yet (no registry, or a
// registry locked by other writers): the watcher sets it.
func (a *Agent) start(ctx context.Context, reg store.Registry, targets []store.Target) (registered bool, err error) {
	now := a.cfg.Now()
	a.health.registryRead()
	name, stable := a.cfg.Self.String(), true
	if me, ok := find(targets, a.cfg.Self); ok {
		name, stable = me.Name, me.Stable
	}
	a.mu.Lock()
	a.name, a.stable = name, stable
	a.mu.Unlock()
	if err := a.cfg.Working.SetMe(ctx, a.cfg.Self.String(), name, stable, now); err != nil {
		return false, fmt.Errorf("agent: %w", err)
	}
	if err := a.applyTargets(ctx, targets); err != nil {
		return false, err
	}
	if reg == nil {
		return false, nil // the watcher registers once the registry answers
	}
	registered = true
	if err := reg.SetRunning(ctx, a.cfg.Self.String(), true, os.Getpid(), now); store.IsBusy(err) {
		registered = false
		a.log.Debug("registry busy; the running flag is set on the next look", "err", err)
	} else if err != nil && !errors.Is(err, store.ErrUnknownTarget) {
		a.log.Warn("set running flag", "err", err)
	}
	if a.cfg.APIURL != "" {
		if err := reg.SetAPIURL(ctx, a.cfg.Self.String(), a.cfg.APIURL); err != nil && !errors.Is(err, store.ErrUnknownTarget) {
			a.log.Warn("advertise api url", "err", err)
		}
	}
	return registered, nil
}

// retryBusy calls fn until it succeeds, fails otherwise than on a locked
// registry (store.IsBusy), or ctx ends.
func retryBusy(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if !store.IsBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50*time.Millisecond + rand.N(50*time.Millisecond)):
		}
	}
}

// applyTargets installs a new target list: working rows, states and order.
func (a *Agent) applyTargets(ctx context.Context, targets []store.Target) error {
	order, bad := rotate(targets, a.cfg.Self)
	for _, b := range bad {
		a.log.Warn("registry row with an invalid address skipped", "address", b)
	}
	want := make([]store.Target, 0, len(order))
	byAddr := make(map[netip.Addr]store.Target, len(targets))
	for _, t := range targets {
		if ad, err := netip.ParseAddr(t.Address); err == nil {
			byAddr[ad.Unmap()] = t
		}
	}
	for _, ad := range order {
		t := byAddr[ad]
		want = append(want, store.Target{Address: ad.String(), Name: t.Name, Stable: t.Stable})
	}
	key := listKey(want)
	if key == a.applied.key && len(want) == a.applied.n {
		return nil // another agent's run flag, say: nothing to do here
	}
	if err := a.flush(ctx); err != nil { // rows of removed targets go next; write their results first
		return err
	}
	if err := a.cfg.Working.SyncTargets(ctx, want); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.saveCache(ctx, targets)
	states, err := a.cfg.Working.States(ctx)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.mu.Lock()
	next := make(map[netip.Addr]*target, len(order))
	for _, ad := range order {
		t := byAddr[ad]
		if old, ok := a.targets[ad]; ok {
			old.mu.Lock()
			old.name, old.stable = t.Name, t.Stable
			old.mu.Unlock()
			next[ad] = old
			continue
		}
		next[ad] = fromState(ad, t, states[ad.String()])
	}
	a.targets, a.order = next, order
	a.mu.Unlock()
	a.pacerMu.Lock()
	a.pacer.setOrder(order)
	a.pacerMu.Unlock()
	a.applied = appliedList{key: key, n: len(want)}
	a.log.Debug("targets applied", "targets", len(order))
	if a.cfg.OnRate != nil {
		a.cfg.OnRate(float64(len(order)) / a.cfg.Interval.Seconds())
	}
	select {
	case a.kickProbe <- struct{}{}:
	default:
	}
	return nil
}

func find(targets []store.Target, self netip.Addr) (store.Target, bool) {
	for _, t := range targets {
		if a, err := netip.ParseAddr(t.Address); err == nil && a.Unmap() == self {
			return t, true
		}
	}
	return store.Target{}, false
}
