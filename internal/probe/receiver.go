package probe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"time"
)

// Receive sizes. Only the first bytes of a packet matter (headers, the
// quoted probe, token and key), so longer packets are read truncated.
const (
	recvBatch   = 64
	recvBufSize = 512
)

// reader reads packets from one socket: real sockets in batches, with raw
// system calls (see rawsys.go); test fakes one at a time.
type reader struct {
	s     *socket
	batch *batchReader // real sockets, else nil
	buf   []byte       // single reads
	oob   []byte
	n, nn int        // lengths of a single read
	from  netip.Addr // sender of a single read
}

func newReader(s *socket) *reader {
	r := &reader{s: s}
	if s.rc != nil {
		r.batch = newBatchReader(recvBatch, recvBufSize, dropOOBSize)
		return r
	}
	r.buf, r.oob = make([]byte, recvBufSize), make([]byte, dropOOBSize)
	return r
}

// read blocks until at least one packet is available and returns how many
// were read.
func (r *reader) read() (int, error) {
	if b := r.batch; b != nil {
		if err := r.s.rc.Read(b.fn); err != nil {
			return 0, err
		}
		if b.errno != 0 {
			return 0, os.NewSyscallError("recvmmsg", b.errno)
		}
		return b.n, nil
	}
	var (
		err  error
		from net.Addr
	)
	if mr, ok := r.s.conn.(msgReader); ok {
		r.n, r.nn, from, err = mr.ReadMsg(r.buf, r.oob)
	} else {
		r.nn = 0
		r.n, from, err = r.s.conn.ReadFrom(r.buf)
	}
	if err != nil {
		return 0, err
	}
	r.from = addrFromNet(from)
	return 1, nil
}

// noteDrops takes the drop counts reported with the n packets of the last
// read into account.
func (r *reader) noteDrops(n int) {
	for i := range n {
		_, oob, _ := r.packet(i)
		r.s.drops.note(oob)
	}
}

// packet returns the data, control messages and sender of packet i of the
// last read.
func (r *reader) packet(i int) (data, oob []byte, from netip.Addr) {
	if r.batch != nil {
		return r.batch.packet(i)
	}
	return r.buf[:r.n], r.oob[:r.nn], r.from
}

// runReceiver reads and matches the packets of socket s until ctx ends.
func (e *Engine) runReceiver(ctx context.Context, s *socket) {
	r := newReader(s)
	var (
		pkts []packet
		buf  []completion
		errs int
	)
	for {
		n, err := r.read()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			if s.dgram && e.handleErrQueue(s) > 0 {
				continue // the error announced queued ICMP errors (sk_err)
			}
			errs++
			if errs%1000 == 1 {
				e.log.Warn("receive failed", "family", s.fam.String(), "err", err, "count", errs)
			}
			time.Sleep(time.Millisecond) // do not spin on a persistent error
			continue
		}
		r.noteDrops(n) // before matching: a timeout in this batch sees them
		now := e.elapsed()
		pkts = pkts[:0]
		for i := range n {
			b, _, from := r.packet(i)
			if p, ok := parsePacket(s.fam, b, from); ok {
				pkts = append(pkts, p)
			}
		}
		buf = e.match(s, pkts, now, buf[:0])
		e.deliver(buf)
	}
}

// handleErrQueue drains the error queue of a datagram socket, ends the
// probes the errors are about and returns how many errors it read. Any
// goroutine may call it.
func (e *Engine) handleErrQueue(s *socket) int {
	pkts := s.drainErrQueue(nil)
	if len(pkts) > 0 {
		e.deliver(e.match(s, pkts, e.elapsed(), nil))
	}
	return len(pkts)
}

// match ends the probes that the packets received on s at engine time now
// answer, updates the counters and returns the completions.
func (e *Engine) match(s *socket, pkts []packet, now time.Duration, buf []completion) []completion {
	if len(pkts) == 0 {
		return buf
	}
	st := &e.stats
	e.mu.Lock()
	defer e.mu.Unlock()
	ended := false
	defer func() {
		if ended {
			e.rearm()
		}
	}()
	for _, p := range pkts {
		if !s.anyID && p.id != s.id {
			st.foreign.Add(1)
			continue
		}
		var idx uint32
		v := verdictLate
		if p.hasKey {
			if p.token != e.token {
				st.foreign.Add(1)
				continue
			}
			idx, v = e.tab.lookup(p.key, p.seq, p.target)
		} else if p.kind != kindReply {
			// An error quoting only 8 bytes of the probe: no key.
			if i, ok := e.tab.findBySeq(p.seq, p.target); ok {
				idx, v = i, verdictPending
			}
		} else {
			v = verdictForeign // an echo reply too short to be ours
		}
		switch v {
		case verdictForeign:
			st.foreign.Add(1)
		case verdictDuplicate:
			st.duplicates.Add(1)
		case verdictLate:
			st.late.Add(1)
		case verdictPending:
			sl := e.tab.at(idx)
			if sl.deadline == e.armed {
				ended = true // the probe the timer waits for: move the timer on below
			}
			switch {
			case now > sl.deadline:
				st.late.Add(1)
				buf = append(buf, e.endTimeout(idx))
			case p.kind == kindReply:
				st.replies.Add(1)
				buf = append(buf, e.end(idx, StatusReply, max(now-sl.sent, 0), "", endedReply))
			default:
				st.errors.Add(1)
				buf = append(buf, e.end(idx, statusOf(p.kind), 0, reasonOf(s.fam, p), endedOther))
			}
		}
	}
	return buf
}
