package probe

import (
	"encoding/binary"
	"net"
	"sync/atomic"

	"golang.org/x/sys/unix"
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

// dropOOBSize holds the SO_RXQ_OVFL control message (and room to spare).
const dropOOBSize = 64

// msgReader is a conn that returns control messages with each packet. Real
// sockets are read in batches instead; test fakes implement it to report
// drops the way the kernel does.
type msgReader interface {
	ReadMsg(b, oob []byte) (n, oobn int, from net.Addr, err error)
}

// dropCounter follows the kernel's cumulative drop count of one socket.
type dropCounter struct {
	last  uint32        // last count reported; receiver goroutine only
	total atomic.Uint64 // drops seen, wraparound of the uint32 undone
}

// note takes the control messages oob of one packet into account and
// returns how many new drops they report.
func (d *dropCounter) note(oob []byte) uint64 {
	v, ok := rxqOverflow(oob)
	if !ok {
		return 0
	}
	delta := v - d.last // modulo 2^32: the kernel's counter wraps
	if delta == 0 || delta >= 1<<31 {
		return 0 // unchanged, or an older packet reordered in a batch
	}
	d.last = v
	d.total.Add(uint64(delta))
	return uint64(delta)
}

// rxqOverflow returns the drop count of an SO_RXQ_OVFL control message in
// oob, if there is one.
func rxqOverflow(oob []byte) (uint32, bool) {
	if len(oob) == 0 {
		return 0, false
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_RXQ_OVFL && len(m.Data) >= 4 {
			return binary.NativeEndian.Uint32(m.Data), true
		}
	}
	return 0, false
}
