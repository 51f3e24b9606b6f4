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
	drainBatch  = 16 // packets per read of the timer's drain, rare and short (drainLocked)
	drainReads  = 16 // reads per socket and drain: the receiver reads the rest
	recvBufSize = 512
	// firstBatch is the batch a reader of a real socket starts with; it
	// grows fourfold, up to its most, each time a read comes back full.
	// Each packet of a batch costs 0.8 KB of buffers: an agent of an
	// emulation, one of a thousand on the machine, reads a few replies
	// at a time, and its IPv6 socket none; at full batches its two
	// sockets' readers took 120 KB.
	firstBatch = 4
	growBatch  = 4
)

// reader reads packets from one socket: real sockets in batches, with raw
// system calls (see rawsys.go); test fakes one at a time.
type reader struct {
	s     *socket
	batch *batchReader // real sockets, else nil
	most  int          // the batch grows up to this many packets
	full  bool         // the last read filled the batch: grow it before the next
	buf   []byte       // single reads
	oob   []byte
	n, nn int        // lengths of a single read
	from  netip.Addr // sender of a single read
}

// newReader returns a reader of s that reads up to most packets at once
// from a real socket: firstBatch at first, more while reads fill the batch.
func newReader(s *socket, most int) *reader {
	r := &reader{s: s, most: most}
	if s.rc != nil {
		r.batch = newBatchReader(min(firstBatch, most), recvBufSize, oobSize)
		return r
	}
	r.buf, r.oob = make([]byte, recvBufSize), make([]byte, oobSize)
	return r
}

// read blocks until at least one packet is available and returns how many
// were read.
func (r *reader) read() (int, error) {
	if r.batch != nil {
		b := r.grown()
		if err := r.s.rc.Read(b.fn); err != nil {
			return 0, err
		}
		if b.errno != 0 {
			return 0, os.NewSyscallError("recvmmsg", b.errno)
		}
		r.full = b.n == len(b.hs)
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

// readNow reads what the socket holds, without waiting, and returns how
// many packets it read: 0 if none, or on an error (which the receiver
// meets and reports).
func (r *reader) readNow() int {
	b := r.batch
	if b == nil {
		nr, ok := r.s.conn.(nowReader)
		if !ok {
			return 0
		}
		n, nn, from, got := nr.ReadMsgNow(r.buf, r.oob)
		if !got {
			return 0
		}
		r.n, r.nn, r.from = n, nn, addrFromNet(from)
		return 1
	}
	b = r.grown()
	got := false
	if err := r.s.rc.Control(func(fd uintptr) { got = b.fn(fd) }); err != nil || !got || b.errno != 0 {
		return 0
	}
	r.full = b.n == len(b.hs)
	return b.n
}

// grown returns the batch to read into: a larger one after a full read,
// until it holds r.most packets. The packets of the last read are no
// longer needed when the next begins.
func (r *reader) grown() *batchReader {
	if n := len(r.batch.hs); r.full && n < r.most {
		r.batch = newBatchReader(min(growBatch*n, r.most), recvBufSize, oobSize)
	}
	r.full = false
	return r.batch
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
	r := newReader(s, recvBatch)
	var (
		pkts []packet
		cis  []controlInfo
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
		pkts, cis = e.parseRead(r, n, pkts[:0], cis[:0])
		e.mu.Lock()
		buf = e.takeLocked(s, pkts, cis, buf[:0])
		e.mu.Unlock()
		e.deliver(buf)
	}
}

// parseRead parses the n packets of r's last read, with what their
// control messages say and how long each waited in the socket.
func (e *Engine) parseRead(r *reader, n int, pkts []packet, cis []controlInfo) ([]packet, []controlInfo) {
	read := e.cfg.Now()
	at := read.Sub(e.base)
	for i := range n {
		b, oob, from := r.packet(i)
		ci := parseControl(oob)
		cis = append(cis, ci)
		if p, ok := parsePacket(r.s.fam, b, from); ok {
			p.at = at - queueWait(ci.arrived, read)
			pkts = append(pkts, p)
		}
	}
	return pkts, cis
}

// takeLocked notes the drops that the control messages cis report, then
// matches pkts: drops first, so that a timeout in this batch sees them.
// e.mu is held.
func (e *Engine) takeLocked(s *socket, pkts []packet, cis []controlInfo, buf []completion) []completion {
	for _, ci := range cis {
		s.drops.note(ci)
	}
	buf, ended := e.matchLocked(s, pkts, buf)
	if ended {
		e.rearm()
	}
	return buf
}

// drainLocked reads, without waiting, what the real sockets hold already
// and matches it, so that probes answered in time do not end as timeouts
// because the receiver has not run yet (see arrival.go). Only the timer
// goroutine calls it, with its own reader per socket. e.mu is held.
func (e *Engine) drainLocked(rs []*reader, buf []completion) []completion {
	var (
		pkts []packet
		cis  []controlInfo
	)
	for _, r := range rs {
		for range drainReads {
			n := r.readNow()
			if n == 0 {
				break
			}
			pkts, cis = e.parseRead(r, n, pkts[:0], cis[:0])
			buf = e.takeLocked(r.s, pkts, cis, buf)
		}
	}
	return buf
}

// handleErrQueue drains the error queue of a datagram socket, ends the
// probes the errors are about and returns how many errors it read. Any
// goroutine may call it.
func (e *Engine) handleErrQueue(s *socket) int {
	pkts := s.drainErrQueue(nil)
	if len(pkts) > 0 {
		at := e.elapsed()
		for i := range pkts {
			pkts[i].at = at
		}
		e.mu.Lock()
		buf := e.takeLocked(s, pkts, nil, nil)
		e.mu.Unlock()
		e.deliver(buf)
	}
	return len(pkts)
}

// matchLocked ends the probes that pkts answer, each judged by the engine
// time it arrived, updates the counters and returns the completions, and
// whether the probe the timer waits for ended (the caller then rearms).
// e.mu is held.
func (e *Engine) matchLocked(s *socket, pkts []packet, buf []completion) (_ []completion, ended bool) {
	st := &e.stats
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
			case p.at > sl.deadline:
				st.late.Add(1)
				buf = append(buf, e.endTimeout(idx))
			case p.kind == kindReply:
				st.replies.Add(1)
				buf = append(buf, e.end(idx, StatusReply, max(p.at-sl.sent, 0), "", endedReply))
			default:
				st.errors.Add(1)
				buf = append(buf, e.end(idx, statusOf(p.kind), 0, reasonOf(s.fam, p), endedOther))
			}
		}
	}
	return buf, ended
}
