package probe

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
	"unsafe"
)

func TestSlotSize(t *testing.T) {
	// 100,000 probes in flight must stay a few megabytes.
	if n := unsafe.Sizeof(slot{}); n > 64 {
		t.Errorf("slot is %d bytes, want at most 64", n)
	}
}

func TestKey(t *testing.T) {
	for _, c := range [][2]uint32{{0, 1}, {70000, 3}, {1<<32 - 1, 1<<32 - 1}} {
		if idx, gen := splitKey(makeKey(c[0], c[1])); idx != c[0] || gen != c[1] {
			t.Errorf("splitKey(makeKey(%d, %d)) = %d, %d", c[0], c[1], idx, gen)
		}
	}
}

func TestTableLookup(t *testing.T) {
	var tab table
	noop := func(Result) {}
	a, b := tab.alloc(target4, time.Second, noop), tab.alloc(target6, time.Second, noop)
	tab.at(a).state = slotInFlight
	genA := tab.at(a).gen
	key := makeKey(a, genA)
	for _, tc := range []struct {
		name   string
		key    uint64
		seq    uint16
		target netip.Addr
		want   verdict
	}{
		{"in flight", key, seqOf(a), target4, verdictPending},
		{"wrong sequence", key, seqOf(a) + 1, target4, verdictForeign},
		{"wrong target", key, seqOf(a), target6, verdictForeign},
		{"future generation", makeKey(a, genA+1), seqOf(a), target4, verdictForeign},
		{"unknown slot", makeKey(99, 1), 99, target4, verdictForeign},
		{"queued, not sent", makeKey(b, tab.at(b).gen), seqOf(b), target6, verdictForeign},
		{"zone and mapping ignored", key, seqOf(a), netip.AddrFrom16(target4.As16()), verdictPending},
	} {
		if _, got := tab.lookup(tc.key, tc.seq, tc.target); got != tc.want {
			t.Errorf("%s: verdict %d, want %d", tc.name, got, tc.want)
		}
	}

	tab.release(a, endedReply)
	if _, v := tab.lookup(key, seqOf(a), target4); v != verdictDuplicate {
		t.Errorf("after a reply: verdict %d, want duplicate", v)
	}
	c := tab.alloc(target4, time.Second, noop) // reuses slot a (FIFO)
	if c != a {
		t.Fatalf("alloc reused slot %d, want %d", c, a)
	}
	if _, v := tab.lookup(key, seqOf(a), target4); v != verdictLate {
		t.Errorf("old generation: verdict %d, want late", v)
	}
	tab.at(c).state = slotInFlight
	tab.release(c, endedOther)
	if _, v := tab.lookup(makeKey(c, tab.at(c).gen), seqOf(c), target4); v != verdictLate {
		t.Errorf("after a timeout: verdict %d, want late", v)
	}
}

func TestTableFindBySeq(t *testing.T) {
	var tab table
	var idx []uint32
	for range 70000 {
		i := tab.alloc(target4, time.Second, func(Result) {})
		tab.at(i).state = slotInFlight
		idx = append(idx, i)
	}
	tab.at(5).target = target6
	// Slots 5 and 65541 share sequence number 5.
	if i, ok := tab.findBySeq(5, target4); !ok || i != 65541 {
		t.Errorf("findBySeq(5, v4) = %d, %v; want 65541", i, ok)
	}
	if i, ok := tab.findBySeq(5, target6); !ok || i != 5 {
		t.Errorf("findBySeq(5, v6) = %d, %v; want 5", i, ok)
	}
	if _, ok := tab.findBySeq(5, router4); ok {
		t.Error("findBySeq found a probe to an address never probed")
	}
	for _, i := range idx {
		tab.release(i, endedOther)
	}
	if tab.busy != 0 || tab.len() != 70000 {
		t.Errorf("busy %d, len %d after releasing all", tab.busy, tab.len())
	}
}

func TestDeadlineHeap(t *testing.T) {
	var h deadlineHeap
	var want []time.Duration
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		at := time.Duration(r.IntN(1000))
		if i%2 == 0 {
			at = time.Duration(i) // mostly increasing, like real deadlines
		}
		h.push(deadlineEntry{at: at})
		want = append(want, at)
	}
	slices.Sort(want)
	for i, w := range want {
		if got := h.pop().at; got != w {
			t.Fatalf("pop %d = %v, want %v", i, got, w)
		}
	}
	if len(h) != 0 {
		t.Errorf("%d entries left", len(h))
	}
}
