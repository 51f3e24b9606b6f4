package probe

import (
	"context"
	"time"
)

// deadlineEntry schedules the expiry of probe (idx, gen) at engine time at.
// Entries are never removed early: when a probe ends before its deadline the
// entry goes stale and is skipped when it reaches the top of the heap.
type deadlineEntry struct {
	at  time.Duration
	idx uint32
	gen uint32
}

// deadlineHeap is a binary min-heap on at. Probes sent with one timeout
// arrive in deadline order, so a push rarely sifts.
type deadlineHeap []deadlineEntry

func (h *deadlineHeap) push(d deadlineEntry) {
	*h = append(*h, d)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].at <= s[i].at {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *deadlineHeap) pop() deadlineEntry {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && s[l].at < s[m].at {
			m = l
		}
		if r := l + 1; r < n && s[r].at < s[m].at {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	if n == 0 && cap(s) > 4096 {
		s = nil // give back the memory of a past burst
	}
	*h = s
	return top
}

// live reports whether d still schedules a probe in flight. e.mu is held.
func (e *Engine) live(d deadlineEntry) bool {
	s := e.tab.at(d.idx)
	return s.gen == d.gen && s.state == slotInFlight && s.deadline == d.at
}

// schedule adds the deadline of a probe just sent and, if it is now the
// earliest, moves the timer to it. The timer is reset here rather than by
// waking the timer goroutine: an agent sending ten probes a second would
// otherwise pay ten extra wakeups a second for deadlines seconds away.
// e.mu is held.
func (e *Engine) schedule(d deadlineEntry) {
	e.deadlines.push(d)
	if d.at < e.armed {
		e.armed = d.at
		e.timer.Reset(max(d.at-e.elapsed(), 0))
	}
}

// dropEnded pops the earliest deadlines while their probes ended otherwise,
// so that the first one left, if any, is live. e.mu is held.
func (e *Engine) dropEnded() {
	for len(e.deadlines) > 0 && !e.live(e.deadlines[0]) {
		e.deadlines.pop()
	}
}

// rearm drops the deadlines of probes that ended otherwise and points the
// timer at the earliest one left. The receiver calls it too when a reply
// ends the probe the timer waits for: an idle agent's probes are nearly all
// answered, and a timer left armed would wake the engine once per probe
// for nothing. e.mu is held.
func (e *Engine) rearm() {
	e.dropEnded()
	e.armed = maxDuration
	if len(e.deadlines) == 0 {
		e.timer.Stop()
		return
	}
	e.armed = e.deadlines[0].at
	e.timer.Reset(max(e.armed-e.elapsed(), 0))
}

// runTimer expires probes whose deadline has passed, until Close closes
// the timer. Tests that move a fake clock make it look at once with
// e.timer.Reset(0).
func (e *Engine) runTimer(ctx context.Context) {
	var buf []completion
	for {
		if err := e.timer.Wait(); err != nil || ctx.Err() != nil {
			return // closed: Close cancels what is left
		}
		buf = e.expire(buf[:0])
		e.mu.Lock()
		e.rearm()
		e.mu.Unlock()
	}
}

// expire ends every probe whose deadline has passed with StatusTimeout,
// after reading the replies already queued for them (see arrival.go).
func (e *Engine) expire(buf []completion) []completion {
	e.mu.Lock()
	now := e.elapsed()
	// Read the queued replies only when a probe in flight is due to time
	// out: the deadline of one answered since the timer was set asks for
	// nothing (a system call saved).
	e.dropEnded()
	if len(e.deadlines) > 0 && e.deadlines[0].at <= now {
		buf = e.drainLocked(e.drains, buf)
	}
	for len(e.deadlines) > 0 && e.deadlines[0].at <= now {
		d := e.deadlines.pop()
		if e.live(d) {
			buf = append(buf, e.endTimeout(d.idx))
		}
	}
	e.mu.Unlock()
	e.deliver(buf)
	return buf
}

const maxDuration = time.Duration(1<<63 - 1)
