package probe

import (
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/icmp"
	"golang.org/x/sys/unix"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

// timestampCmsg returns an SCM_TIMESTAMPNS control message for t, as the
// kernel writes it.
func timestampCmsg(t time.Time) []byte {
	size := int(unsafe.Sizeof(unix.Timespec{}))
	b := make([]byte, unix.CmsgSpace(size))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(size))
	*(*unix.Timespec)(unsafe.Pointer(&b[unix.CmsgLen(0)])) = unix.NsecToTimespec(t.UnixNano())
	return b
}

func TestParseControl(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 1, 500, time.UTC)
	for _, tc := range []struct {
		name     string
		oob      []byte
		drops    uint32
		hasDrops bool
		arrived  time.Time
	}{
		{"none", nil, 0, false, time.Time{}},
		{"drops", rxqOverflowMsg(7), 7, true, time.Time{}},
		{"arrival", timestampCmsg(at), 0, false, at},
		{"both, as the kernel writes them", append(timestampCmsg(at), rxqOverflowMsg(9)...), 9, true, at},
		{"garbage", []byte{1, 2, 3}, 0, false, time.Time{}},
		{"truncated", timestampCmsg(at)[:20], 0, false, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ci := parseControl(tc.oob)
			if ci.drops != tc.drops || ci.hasDrops != tc.hasDrops || !ci.arrived.Equal(tc.arrived) {
				t.Errorf("parseControl = %+v, want drops %d (%v), arrived %v", ci, tc.drops, tc.hasDrops, tc.arrived)
			}
		})
	}
}

func TestQueueWait(t *testing.T) {
	read := time.Date(2030, 1, 1, 0, 0, 10, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		arrived time.Time
		want    time.Duration
	}{
		{"unknown", time.Time{}, 0},
		{"waited", read.Add(-2 * time.Second), 2 * time.Second},
		{"just now", read, 0},
		{"in the future (clock stepped back)", read.Add(time.Second), 0},
		{"too long ago (clock stepped forward)", read.Add(-maxQueueWait - time.Second), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := queueWait(tc.arrived, read); got != tc.want {
				t.Errorf("queueWait = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestReplyJudgedByArrival: a reply read after its probe's deadline
// answers the probe if the kernel received it before the deadline, with
// the round trip to its arrival; one that arrived after it is late.
func TestReplyJudgedByArrival(t *testing.T) {
	const timeout = 8 * time.Second // the real timer does not fire during the test
	for _, tc := range []struct {
		name    string
		arrived time.Duration // after the send; 0: no arrival time
		status  Status
		rtt     time.Duration
	}{
		{"arrived in time, read late", 3 * time.Second, StatusReply, 3 * time.Second},
		{"arrived late", timeout + time.Millisecond, StatusTimeout, 0},
		{"no arrival time, read late", 0, StatusTimeout, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			sentAt := h.clock.Now()
			ch, req := h.send(target4, timeout)
			h.clock.Advance(9 * time.Second) // the agent was off the CPU
			reply := replyTo(t, v4, req.b, nil)
			if tc.arrived > 0 {
				h.conn(v4).injectArrived(reply, target4, sentAt.Add(tc.arrived))
			} else {
				h.conn(v4).inject(reply, target4)
			}
			if r := wait(t, ch); r.Status != tc.status || r.RTT != tc.rtt {
				t.Errorf("result %v (rtt %v), want %v (rtt %v)", r.Status, r.RTT, tc.status, tc.rtt)
			}
		})
	}
}

// TestTimerReadsQueuedRepliesFirst: when a probe's deadline comes before
// the receiver has read the reply waiting in the socket, the timer reads
// it, and the probe is answered instead of timed out.
func TestTimerReadsQueuedRepliesFirst(t *testing.T) {
	l := &fakeListener{port: 4242, gate: make(chan struct{})} // the receiver does not read
	t.Cleanup(func() { close(l.gate) })
	h := newHarness(t, Config{Listener: l})
	sentAt := h.clock.Now()
	answered, req := h.send(target4, 100*time.Millisecond)
	unanswered, _ := h.send(target6, 100*time.Millisecond)
	h.conn(v4).injectArrived(replyTo(t, v4, req.b, nil), target4, sentAt.Add(40*time.Millisecond))
	h.expire(time.Second)
	if r := wait(t, answered); r.Status != StatusReply || r.RTT != 40*time.Millisecond {
		t.Errorf("answered probe: %v (rtt %v), want a reply in 40ms", r.Status, r.RTT)
	}
	if r := wait(t, unanswered); r.Status != StatusTimeout {
		t.Errorf("unanswered probe: %v, want a timeout", r.Status)
	}
}

// TestSocketStampsArrival: a real socket reports each packet's kernel
// receive time, and readNow returns what is queued without waiting.
func TestSocketStampsArrival(t *testing.T) {
	testenv.RequireRoot(t)
	cfg, _ := Config{}.withDefaults()
	rx, err := openSocket(t.Context(), cfg, v4)
	if err != nil {
		t.Fatal(err)
	}
	defer rx.conn.Close()
	r := newReader(rx, drainBatch)
	if n := r.readNow(); n != 0 {
		t.Fatalf("readNow on an empty socket = %d, want 0", n)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	before := time.Now()
	req := marshal(t, v4, v4.echoRequest(), 0, &icmp.Echo{ID: int(rx.id), Seq: 1, Data: make([]byte, 56)})
	if err := rx.writeTo(req, lo); err != nil {
		t.Fatal(err)
	}
	// Loopback answers within the send: the reply is queued by now.
	n := r.readNow()
	after := time.Now()
	if n == 0 {
		t.Fatal("readNow after a loopback echo: nothing queued")
	}
	found := false
	for i := range n {
		b, oob, from := r.packet(i)
		if p, ok := parsePacket(v4, b, from); !ok || p.kind != kindReply {
			continue
		}
		found = true
		if arrived := parseControl(oob).arrived; arrived.Before(before.Round(0).Add(-time.Millisecond)) || arrived.After(after) {
			t.Errorf("arrival %v, want between %v and %v", arrived, before, after)
		}
	}
	if !found {
		t.Errorf("no echo reply among the %d packets read", n)
	}
}
