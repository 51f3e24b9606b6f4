package probe

import (
	"net"
	"sync/atomic"
)

// Local overload is not target loss. When replies arrive faster than the
// receiver reads them, the socket's receive queue overflows and the kernel
// drops them: a burst of 100,000 targets on a loaded machine loses
// thousands of replies that way. With SO_RXQ_OVFL set, the kernel attaches
// to every packet read the socket's cumulative drop count (a uint32) as a
// control message. The engine keeps the count per socket; a probe that
// reaches its deadline after the count of its socket grew since it was sent
// ends with StatusLocalDrop instead of StatusTimeout: its reply may have
// been among the dropped packets, so it says nothing about the target.
//
// The kernel reports the count with the packets queued after the drops, so
// it becomes known when the receiver reaches them; while the queue is full
// that is within one queue's worth of reads. A probe whose deadline passes
// before then still ends as a timeout.

// msgReader is a conn that returns control messages with each packet. Real
// sockets are read in batches instead; test fakes implement it to report
// drops the way the kernel does.
type msgReader interface {
	ReadMsg(b, oob []byte) (n, oobn int, from net.Addr, err error)
}

// nowReader is a msgReader that can also return a queued packet without
// waiting (ok false when none is queued): test fakes implement it so that
// the timer's drain (drainLocked) reads them as it reads real sockets.
type nowReader interface {
	ReadMsgNow(b, oob []byte) (n, oobn int, from net.Addr, ok bool)
}

// dropCounter follows the kernel's cumulative drop count of one socket.
type dropCounter struct {
	last  uint32        // last count reported; Engine.mu held
	total atomic.Uint64 // drops seen, wraparound of the uint32 undone
}

// note takes the control messages of one packet into account and returns
// how many new drops they report. Engine.mu is held: the receiver and the
// timer's drain both read packets.
func (d *dropCounter) note(ci controlInfo) uint64 {
	if !ci.hasDrops {
		return 0
	}
	delta := ci.drops - d.last // modulo 2^32: the kernel's counter wraps
	if delta == 0 || delta >= 1<<31 {
		return 0 // unchanged, or an older packet reordered in a batch
	}
	d.last = ci.drops
	d.total.Add(uint64(delta))
	return uint64(delta)
}
