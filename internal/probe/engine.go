package probe

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

	"github.com/pmonitor/pmonitor/internal/timerfd"
)

// ErrClosed is returned by Send and Ping after Close.
var ErrClosed = errors.New("probe engine closed")

// Engine sends ICMP echo probes and matches their replies. It is safe for
// concurrent use; create it with New and release it with Close.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	base  time.Time // engine times are durations since base
	token uint64    // random, identifies this engine's probes
	socks [2]*socket
	errs  [2]error // why socks[f] is nil

	mu        sync.Mutex
	tab       table
	queue     []uint32 // slots waiting for the sender
	deadlines deadlineHeap
	armed     time.Duration  // deadline the timer is set to; under mu
	timer     *timerfd.Timer // fires at armed; reset under mu
	closed    bool
	drains    []*reader // the timer goroutine's readers of the sockets (drainLocked)

	sendKick  chan struct{}
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	stats struct {
		sent, replies, timeouts, late, duplicates, foreign, errors, sendErrors, localDrops atomic.Uint64
	}
}

// completion is a done callback with its result, run without e.mu held.
type completion struct {
	done func(Result)
	r    Result
}

// New opens the engine's sockets (IPv4 and IPv6) and starts its goroutines.
// It fails when no socket can be opened, or when the socket of the family of
// cfg.Source cannot; a family whose socket failed makes Send return that
// error for its targets. ctx bounds the setup only: the engine runs until
// Close.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("probe config: %w", err)
	}
	e := &Engine{
		cfg:      cfg,
		log:      cfg.Logger,
		base:     cfg.Now(),
		token:    rand.Uint64(),
		armed:    maxDuration,
		sendKick: make(chan struct{}, 1),
	}
	if e.timer, err = timerfd.New(); err != nil {
		return nil, err
	}
	for _, f := range []family{v4, v6} {
		e.socks[f], e.errs[f] = openSocket(ctx, cfg, f)
	}
	if cfg.Source.IsValid() && e.errs[familyOf(cfg.Source)] != nil {
		e.closeSockets()
		return nil, e.errs[familyOf(cfg.Source)]
	}
	if e.socks[v4] == nil && e.socks[v6] == nil {
		e.timer.Close()
		if errors.Is(e.errs[v4], os.ErrPermission) && errors.Is(e.errs[v6], os.ErrPermission) {
			return nil, e.errs[v4] // the IPv6 error says the same
		}
		return nil, errors.Join(e.errs[v4], e.errs[v6])
	}
	for _, f := range []family{v4, v6} {
		if e.errs[f] != nil {
			e.log.Warn("probes of one address family unavailable", "family", f.String(), "err", e.errs[f])
		}
	}
	for _, s := range e.socks {
		if s != nil {
			e.drains = append(e.drains, newReader(s, drainBatch))
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel = cancel
	e.goRun(func() { e.runSender(runCtx) })
	e.goRun(func() { e.runTimer(runCtx) })
	for _, s := range e.socks {
		if s != nil {
			e.goRun(func() { e.runReceiver(runCtx, s) })
		}
	}
	return e, nil
}

func (e *Engine) goRun(fn func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		fn()
	}()
}

func (e *Engine) closeSockets() error {
	var errs []error
	for _, s := range e.socks {
		if s != nil {
			if err := s.conn.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %v socket: %w", s.fam, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Close stops the engine and closes its sockets. Probes still pending end
// with StatusCanceled (their done callbacks run before Close returns). Close
// is idempotent.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		e.cancel()
		e.closeErr = e.closeSockets()
		e.timer.Close() // ends the timer goroutine's wait
		e.wg.Wait()
		var buf []completion
		e.mu.Lock()
		for i := range e.tab.len() {
			if e.tab.at(uint32(i)).state != slotFree {
				buf = append(buf, e.end(uint32(i), StatusCanceled, 0, "probe engine closed", endedOther))
			}
		}
		e.queue, e.deadlines = nil, nil
		e.mu.Unlock()
		e.deliver(buf)
	})
	return e.closeErr
}

// Send starts one probe of target that expires timeout after it is sent.
// done is called exactly once with the result, from an engine goroutine
// (never from Send itself); it must not block for long. It may call Send
// but not Close.
// Probes are sent in the order of the Send calls, paced by Config.Gap.
// Send is safe for concurrent use and does not block on the network.
func (e *Engine) Send(target netip.Addr, timeout time.Duration, done func(Result)) error {
	target = target.Unmap()
	switch {
	case !target.IsValid() || target.IsUnspecified():
		return fmt.Errorf("send probe: invalid target %q", target)
	case timeout <= 0:
		return fmt.Errorf("send probe to %v: timeout %v not positive", target, timeout)
	case done == nil:
		return fmt.Errorf("send probe to %v: nil done callback", target)
	}
	if err := e.errs[familyOf(target)]; err != nil {
		return fmt.Errorf("send probe to %v: %w", target, err)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	idx := e.tab.alloc(target, timeout, done)
	e.queue = append(e.queue, idx)
	e.mu.Unlock()
	select {
	case e.sendKick <- struct{}{}:
	default:
	}
	return nil
}

// Ping probes target once and waits for the result. If ctx ends first it
// returns ctx's error; the probe then ends on its own.
func (e *Engine) Ping(ctx context.Context, target netip.Addr, timeout time.Duration) (Result, error) {
	ch := make(chan Result, 1)
	if err := e.Send(target, timeout, func(r Result) { ch <- r }); err != nil {
		return Result{}, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Stats returns a snapshot of the engine's counters.
func (e *Engine) Stats() Stats {
	s := &e.stats
	return Stats{
		Sent: s.sent.Load(), Replies: s.replies.Load(), Timeouts: s.timeouts.Load(), Late: s.late.Load(),
		Duplicates: s.duplicates.Load(), Foreign: s.foreign.Load(), Errors: s.errors.Load(),
		SendErrors: s.sendErrors.Load(), LocalDrops: s.localDrops.Load(), SocketDrops: e.socketDrops(),
	}
}

// socketDrops is the sum of the kernel's drop counts of the sockets.
func (e *Engine) socketDrops() uint64 {
	var n uint64
	for _, s := range e.socks {
		if s != nil {
			n += s.drops.total.Load()
		}
	}
	return n
}

// elapsed is the engine time: monotonic time since base.
func (e *Engine) elapsed() time.Duration { return e.cfg.Now().Sub(e.base) }

// end frees slot idx and returns its completion. e.mu is held.
func (e *Engine) end(idx uint32, st Status, rtt time.Duration, reason string, how ending) completion {
	s := e.tab.at(idx)
	r := Result{Target: s.target, RTT: rtt, Status: st, Reason: reason}
	if s.state == slotInFlight {
		r.Sent = e.base.Add(s.sent)
	}
	return completion{done: e.tab.release(idx, how), r: r}
}

// endTimeout ends probe idx at its deadline: StatusLocalDrop if its socket
// dropped packets since it was sent, StatusTimeout otherwise. e.mu is held.
func (e *Engine) endTimeout(idx uint32) completion {
	sl := e.tab.at(idx)
	timeout := sl.deadline - sl.sent
	if d := uint32(e.socks[familyOf(sl.target)].drops.total.Load()) - sl.drops; d > 0 && sl.state == slotInFlight {
		e.stats.localDrops.Add(1)
		return e.end(idx, StatusLocalDrop, 0, localDropReason(timeout, uint64(d)), endedOther)
	}
	e.stats.timeouts.Add(1)
	return e.end(idx, StatusTimeout, 0, timeoutReason(timeout), endedOther)
}

// deliver runs the done callbacks of buf, without e.mu held, and clears buf.
func (e *Engine) deliver(buf []completion) {
	for i := range buf {
		buf[i].done(buf[i].r)
		buf[i] = completion{}
	}
}
