package probe

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/sys/unix"
)

// Send retries: ENOBUFS (qdisc or device queue full) and EAGAIN are waited
// out with a growing pause, up to about a quarter of a second in all.
const (
	sendRetries    = 12
	sendRetryFirst = 100 * time.Microsecond
	sendRetryMax   = 50 * time.Millisecond
)

// sender is the state of the sender goroutine.
type sender struct {
	e       *Engine
	batch   []uint32
	payload []byte
	last    time.Time // real time of the last send, for Config.Gap
	pauser  *time.Timer
	buf     []completion
}

// runSender sends the queued probes in order until ctx ends.
func (e *Engine) runSender(ctx context.Context) {
	s := &sender{e: e, payload: make([]byte, e.cfg.PayloadSize), pauser: time.NewTimer(time.Hour)}
	s.pauser.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.sendKick:
		}
		for {
			e.mu.Lock()
			s.batch, e.queue = e.queue, s.batch[:0]
			e.mu.Unlock()
			if len(s.batch) == 0 {
				break
			}
			for _, idx := range s.batch {
				if ctx.Err() != nil {
					return // Close cancels what is left
				}
				s.send(ctx, idx)
			}
		}
	}
}

// send sends the probe in slot idx, stamping it just before the write.
func (s *sender) send(ctx context.Context, idx uint32) {
	e := s.e
	e.mu.Lock()
	sl := e.tab.at(idx)
	if sl.state != slotQueued {
		e.mu.Unlock()
		return
	}
	target, gen, timeout := sl.target, sl.gen, sl.deadline // queued: deadline holds the timeout
	e.mu.Unlock()

	sock := e.socks[familyOf(target)]
	putKey(s.payload, e.token, makeKey(idx, gen))
	msg := icmp.Message{Type: sock.fam.echoRequest(), Body: &icmp.Echo{ID: int(sock.id), Seq: int(seqOf(idx)), Data: s.payload}}
	b, err := msg.Marshal(nil)
	if err == nil {
		if !s.pace(ctx) {
			return // closing: Close cancels the probe
		}
		err = s.write(ctx, sock, b, target, idx, gen, timeout)
	}
	if err == nil {
		return
	}
	if ctx.Err() != nil {
		return // the socket was closed under us: Close cancels the probe
	}
	e.stats.sendErrors.Add(1)
	e.mu.Lock()
	if sl := e.tab.at(idx); sl.gen == gen && sl.state != slotFree {
		s.buf = append(s.buf[:0], e.end(idx, StatusSendError, 0, "send: "+err.Error(), endedOther))
	}
	e.mu.Unlock()
	e.deliver(s.buf)
	s.buf = s.buf[:0]
}

// write stamps probe (idx, gen) as in flight and writes b to dst, retrying
// transient failures.
func (s *sender) write(ctx context.Context, sock *socket, b []byte, dst netip.Addr, idx, gen uint32, timeout time.Duration) error {
	e := s.e
	pause := sendRetryFirst
	drained := false
	for attempt := 0; ; attempt++ {
		e.mu.Lock()
		sl := e.tab.at(idx)
		if sl.gen != gen || sl.state == slotFree {
			e.mu.Unlock()
			return nil // ended meanwhile (engine closing)
		}
		now := e.elapsed()
		sl.state, sl.sent, sl.deadline = slotInFlight, now, now+timeout
		sl.drops = uint32(sock.drops.total.Load())
		e.schedule(deadlineEntry{at: now + timeout, idx: idx, gen: gen})
		e.mu.Unlock()

		e.stats.sent.Add(1) // before the write: the reply may be counted before it returns
		err := sock.writeTo(b, dst)
		s.last = time.Now()
		if err != nil {
			e.stats.sent.Add(^uint64(0))
		}
		switch {
		case err == nil:
			return nil
		case sock.dgram && !drained && isICMPErrno(err):
			// Probably an earlier probe's ICMP error reported on this
			// call (sk_err): collect the queued errors and try again.
			drained = true
			e.handleErrQueue(sock)
			continue
		case attempt < sendRetries && (errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN)):
			if !s.sleep(ctx, pause) {
				return err
			}
			pause = min(2*pause, sendRetryMax)
			continue
		}
		return err
	}
}

// pace waits until Config.Gap has passed since the previous send; it
// reports false if ctx ended first.
func (s *sender) pace(ctx context.Context) bool {
	gap := s.e.cfg.Gap
	if gap <= 0 || s.last.IsZero() {
		return true
	}
	if wait := gap - time.Since(s.last); wait > 0 {
		return s.sleep(ctx, wait)
	}
	return true
}

// sleep waits for d or until ctx ends; it reports whether d elapsed.
func (s *sender) sleep(ctx context.Context, d time.Duration) bool {
	s.pauser.Reset(d)
	select {
	case <-ctx.Done():
		s.pauser.Stop()
		return false
	case <-s.pauser.C:
		return true
	}
}
