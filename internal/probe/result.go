package probe

import (
	"fmt"
	"net/netip"
	"time"
)

// Status is the outcome of one probe.
type Status int

// Probe outcomes.
const (
	// StatusReply: an echo reply arrived before the deadline.
	StatusReply Status = iota
	// StatusTimeout: nothing (or only a late reply) arrived before the deadline.
	StatusTimeout
	// StatusUnreachable: an ICMP destination unreachable (or parameter
	// problem) error came back.
	StatusUnreachable
	// StatusTTLExceeded: an ICMP time exceeded error came back.
	StatusTTLExceeded
	// StatusSendError: the probe could not be sent.
	StatusSendError
	// StatusCanceled: the engine was closed before the probe ended.
	StatusCanceled
	// StatusLocalDrop: the deadline passed, but this host's kernel dropped
	// received packets on the probe socket (its receive queue overflowed)
	// while the probe was in flight: the reply may have been among them,
	// so the probe says nothing about the target.
	StatusLocalDrop
)

var statusNames = [...]string{
	StatusReply:       "reply",
	StatusTimeout:     "timeout",
	StatusUnreachable: "unreachable",
	StatusTTLExceeded: "ttl-exceeded",
	StatusSendError:   "send-error",
	StatusCanceled:    "canceled",
	StatusLocalDrop:   "local-drop",
}

// String returns a short lowercase name such as "reply" or "ttl-exceeded".
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is the outcome of one probe, handed to the done callback of Send.
type Result struct {
	// Target is the probed address.
	Target netip.Addr
	// Sent is when the probe was written to the socket (engine clock); zero
	// if it never was.
	Sent time.Time
	// RTT is the round-trip time, valid when Status is StatusReply. It is a
	// difference of monotonic clock readings.
	RTT time.Duration
	// Status says how the probe ended.
	Status Status
	// Reason explains a non-reply, for example "destination host
	// unreachable from 10.0.0.1" or "timeout after 3s".
	Reason string
}

// OK reports whether the target answered.
func (r Result) OK() bool { return r.Status == StatusReply }

// String formats r for logs, for example "127.0.0.1 reply 52µs".
func (r Result) String() string {
	if r.OK() {
		return fmt.Sprintf("%v reply %v", r.Target, r.RTT)
	}
	return fmt.Sprintf("%v %v: %s", r.Target, r.Status, r.Reason)
}

// Stats are an Engine's cumulative counters.
type Stats struct {
	Sent       uint64 // echo requests written
	Replies    uint64 // replies that ended a probe in time
	Timeouts   uint64 // probes that reached their deadline
	Late       uint64 // our replies that came after the probe had ended otherwise
	Duplicates uint64 // our replies to a probe that was already answered
	Foreign    uint64 // echo replies or ICMP errors about other processes' probes
	Errors     uint64 // ICMP errors that ended one of our probes
	SendErrors uint64 // probes that could not be sent
	LocalDrops uint64 // probes that reached their deadline while the kernel dropped packets of ours (StatusLocalDrop)
	// SocketDrops is what the kernel reports (SO_RXQ_OVFL) as dropped on
	// the probe sockets because their receive queue was full.
	SocketDrops uint64
}
