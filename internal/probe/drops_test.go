package probe

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/icmp"
	"golang.org/x/sys/unix"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

// rxqOverflowMsg builds the control message the kernel attaches to a
// packet on a socket with SO_RXQ_OVFL set.
func rxqOverflowMsg(count uint32) []byte {
	b := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SO_RXQ_OVFL
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[unix.CmsgLen(0):], count)
	return b
}

func TestDropCounter(t *testing.T) {
	var d dropCounter
	for _, tc := range []struct {
		oob  []byte
		want uint64 // new drops
	}{
		{nil, 0},
		{rxqOverflowMsg(3), 3},
		{rxqOverflowMsg(3), 0},
		{rxqOverflowMsg(2), 0}, // an older packet of the same batch
		{rxqOverflowMsg(10), 7},
		{[]byte{1, 2, 3}, 0}, // garbage
	} {
		if got := d.note(parseControl(tc.oob)); got != tc.want {
			t.Errorf("note(%v) = %d, want %d", tc.oob, got, tc.want)
		}
	}
	d.last = 1<<32 - 2 // the kernel's uint32 wraps
	if got := d.note(parseControl(rxqOverflowMsg(3))); got != 5 {
		t.Errorf("across the wrap: %d new drops, want 5", got)
	}
	if d.total.Load() != 15 {
		t.Errorf("total %d, want 15", d.total.Load())
	}
}

// TestLocalDropNotTimeout: a probe whose deadline passes after its socket
// reported drops ends as a local drop, not a timeout; one sent after the
// drops times out as usual.
func TestLocalDropNotTimeout(t *testing.T) {
	h := newHarness(t, Config{})
	timeout := 100 * time.Millisecond
	ch, _ := h.send(target4, timeout)
	// A reply of another probe arrives with the kernel's report of 5 drops.
	s, sreq := h.send(sentinel4, time.Hour)
	h.conn(v4).injectDropped(replyTo(t, v4, sreq.b, nil), sentinel4, 5)
	if r := wait(t, s); r.Status != StatusReply {
		t.Fatalf("sentinel: %v", r)
	}
	later, _ := h.send(target4, timeout) // sent after the drops were known
	h.expire(timeout + time.Millisecond)
	r := wait(t, ch)
	if r.Status != StatusLocalDrop || r.Reason != localDropReason(timeout, 5) {
		t.Errorf("probe in flight during drops: %v, want local-drop", r)
	}
	if r := wait(t, later); r.Status != StatusTimeout {
		t.Errorf("probe sent after the drops: %v, want timeout", r)
	}
	st := h.e.Stats()
	if st.SocketDrops != 5 || st.LocalDrops != 1 || st.Timeouts != 1 {
		t.Errorf("stats %+v: want 5 socket drops, 1 local drop, 1 timeout", st)
	}
}

// TestSocketReportsDrops: a real socket with SO_RXQ_OVFL reports the
// packets its full receive queue dropped.
func TestSocketReportsDrops(t *testing.T) {
	testenv.RequireRoot(t)
	cfg, _ := Config{RecvBuffer: 1}.withDefaults() // the kernel's minimum: a few packets
	rx, err := openSocket(t.Context(), cfg, v4)
	if err != nil {
		t.Fatal(err)
	}
	defer rx.conn.Close()
	// Nobody reads rx while we flood it with echo requests to loopback:
	// on a raw socket the replies queue, then overflow.
	txCfg, _ := Config{RecvBuffer: 1 << 16}.withDefaults()
	tx, err := openSocket(t.Context(), txCfg, v4)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.conn.Close()
	req := marshal(t, v4, v4.echoRequest(), 0, &icmp.Echo{ID: int(rx.id), Seq: 1, Data: make([]byte, 56)})
	for range 500 {
		if err := tx.writeTo(req, netip.MustParseAddr("127.0.0.1")); err != nil {
			t.Fatal(err)
		}
	}
	// The kernel reports the count with packets queued after the drops:
	// read the queue empty, then one more reply.
	r := newReader(rx, recvBatch)
	drain := func() {
		for {
			rx.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := r.read()
			if err != nil {
				return // the queue is empty
			}
			for i := range n {
				_, oob, _ := r.packet(i)
				rx.drops.note(parseControl(oob))
			}
		}
	}
	drain()
	if err := tx.writeTo(req, netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	drain()
	if rx.drops.total.Load() == 0 {
		t.Errorf("no drops reported after 500 packets into a full receive queue")
	}
}

// TestReaderGrowsWithFullReads: a reader starts with a small batch (an
// agent's socket sees a few packets at a time) and grows it while reads
// come back full, up to its most, without losing a packet.
func TestReaderGrowsWithFullReads(t *testing.T) {
	testenv.RequireRoot(t)
	cfg, _ := Config{RecvBuffer: 1 << 20}.withDefaults()
	rx, err := openSocket(t.Context(), cfg, v4)
	if err != nil {
		t.Fatal(err)
	}
	defer rx.conn.Close()
	r := newReader(rx, recvBatch)
	if got := len(r.batch.hs); got != firstBatch {
		t.Fatalf("new reader's batch = %d packets, want %d", got, firstBatch)
	}
	tx, err := openSocket(t.Context(), cfg, v4)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.conn.Close()
	const sent = 200
	for seq := range sent {
		req := marshal(t, v4, v4.echoRequest(), 0, &icmp.Echo{ID: int(rx.id), Seq: seq, Data: make([]byte, 56)})
		if err := tx.writeTo(req, netip.MustParseAddr("127.0.0.1")); err != nil {
			t.Fatal(err)
		}
	}
	// A raw socket reads the requests and the replies to them: 400
	// packets, all queued before the first read.
	replies, most := 0, 0
	for replies < sent {
		rx.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := r.read()
		if err != nil {
			t.Fatalf("after %d replies: %v", replies, err)
		}
		most = max(most, n)
		for i := range n {
			b, _, from := r.packet(i)
			if p, ok := parsePacket(v4, b, from); ok && p.kind == kindReply && p.id == rx.id {
				replies++
			}
		}
	}
	if most != recvBatch || len(r.batch.hs) != recvBatch {
		t.Errorf("largest read %d packets, batch now %d; want both %d", most, len(r.batch.hs), recvBatch)
	}
}
