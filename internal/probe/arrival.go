package probe

import (
	"encoding/binary"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A starved process is not a lost target. On a machine that runs more
// agents than it has cores, an agent can be kept off the CPU for longer
// than a probe's timeout while its replies wait in the socket. Judged by
// the time they are read, they would be timeouts and inflated round
// trips, and every agent of an overloaded mesh would report outages that
// the network never had; a monitor must not invent them. So the sockets
// ask the kernel to stamp each packet on arrival (SO_TIMESTAMPNS). A
// reply is judged by the time it reached the socket: its round trip ends
// there, and it answers its probe if it came before the deadline, however
// late it is read. And before the timer ends probes at their deadline, it
// reads what is already queued (drainLocked): a timer that runs before the
// receiver would otherwise time out probes whose replies are waiting.

// oobSize holds the control messages of one packet: the drop count
// (SO_RXQ_OVFL, 24 bytes) and the arrival time (SO_TIMESTAMPNS, 32 bytes).
const oobSize = 96

// maxQueueWait bounds the wait in the socket that an arrival time may
// claim. A longer one means the wall clock was stepped between arrival
// and read, and the read time is used instead.
const maxQueueWait = 10 * time.Second

// controlInfo is what the control messages of one packet say.
type controlInfo struct {
	drops    uint32 // the socket's cumulative drop count (SO_RXQ_OVFL)
	hasDrops bool
	arrived  time.Time // kernel receive time (SO_TIMESTAMPNS), wall clock
}

// parseControl reads the control messages in oob without allocating.
func parseControl(oob []byte) controlInfo {
	var ci controlInfo
	for len(oob) >= unix.SizeofCmsghdr {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			break
		}
		oob = rest
		if h.Level != unix.SOL_SOCKET {
			continue
		}
		switch {
		case h.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			ci.drops, ci.hasDrops = binary.NativeEndian.Uint32(data), true
		case h.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})):
			ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
			ci.arrived = time.Unix(int64(ts.Sec), int64(ts.Nsec))
		}
	}
	return ci
}

// queueWait returns how long a packet that arrived at arrived (wall clock)
// waited before it was read at read: 0 if unknown or implausible. Only the
// difference of two wall clock readings a moment apart is used, so a
// clock stepped long ago does not matter.
func queueWait(arrived, read time.Time) time.Duration {
	if arrived.IsZero() {
		return 0
	}
	w := read.Round(0).Sub(arrived)
	if w < 0 || w > maxQueueWait {
		return 0
	}
	return w
}
