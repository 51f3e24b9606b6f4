package probe

import (
	"net/netip"
	"time"
)

// The pending table holds one slot per probe in flight. A probe is named by
// its key: the slot index in the low 32 bits and the slot generation in the
// high 32 bits. The echo sequence number is the low 16 bits of the index,
// so an ICMP error that quotes only the first 8 bytes of the probe still
// narrows the search to a few slots. Freed slots are reused in FIFO order,
// which keeps a slot's last outcome around for as long as possible to tell
// late replies from duplicates.

// slotState is where a slot is in a probe's life.
type slotState uint8

const (
	slotFree     slotState = iota // no probe; ended tells how the last one ended
	slotQueued                    // waiting for the sender
	slotInFlight                  // sent, waiting for a reply or the deadline
)

// ending records how the last probe of a slot ended.
type ending uint8

const (
	endedNone  ending = iota
	endedReply        // answered: a further reply is a duplicate
	endedOther        // timeout, error, cancel: a further reply is late
)

// slot is one pending probe (64 bytes).
type slot struct {
	target   netip.Addr
	done     func(Result)
	sent     time.Duration // since Engine.base
	deadline time.Duration // since Engine.base; while queued, the timeout
	gen      uint32
	drops    uint32 // drops of its socket when it was sent (low 32 bits)
	state    slotState
	ended    ending
}

// chunkBits sets the size of the table's chunks (1024 slots, 64 KiB):
// growing the table never copies slots, and a slot never moves.
const chunkBits = 10

// table is the pending table. It is not safe for concurrent use; the
// Engine guards it with its mutex.
type table struct {
	chunks [][]slot
	n      int      // slots in use or free
	free   []uint32 // FIFO of free slot indexes: free[head:]
	head   int
	busy   int // slots not free
}

// len is the number of slots.
func (t *table) len() int { return t.n }

// at returns slot idx, which must be below t.len().
func (t *table) at(idx uint32) *slot {
	return &t.chunks[idx>>chunkBits][idx&(1<<chunkBits-1)]
}

// makeKey returns the payload key of slot idx at generation gen.
func makeKey(idx, gen uint32) uint64 { return uint64(gen)<<32 | uint64(idx) }

// splitKey is the inverse of makeKey.
func splitKey(key uint64) (idx, gen uint32) { return uint32(key), uint32(key >> 32) }

// seqOf is the echo sequence number of slot idx.
func seqOf(idx uint32) uint16 { return uint16(idx) }

// alloc returns a free slot, marked queued, with a new generation.
func (t *table) alloc(target netip.Addr, timeout time.Duration, done func(Result)) uint32 {
	var idx uint32
	if t.head < len(t.free) {
		idx = t.free[t.head]
		t.head++
		if t.head == len(t.free) {
			t.free, t.head = t.free[:0], 0
		} else if t.head > 1024 && t.head > len(t.free)/2 {
			n := copy(t.free, t.free[t.head:])
			t.free, t.head = t.free[:n], 0
		}
	} else {
		idx = uint32(t.n)
		if t.n>>chunkBits == len(t.chunks) {
			t.chunks = append(t.chunks, make([]slot, 1<<chunkBits))
		}
		t.n++
	}
	s := t.at(idx)
	*s = slot{target: target, done: done, deadline: timeout, gen: s.gen + 1, state: slotQueued}
	t.busy++
	return idx
}

// release frees slot idx, remembering how its probe ended, and returns its
// done callback.
func (t *table) release(idx uint32, how ending) func(Result) {
	s := t.at(idx)
	done := s.done
	s.done = nil
	s.state = slotFree
	s.ended = how
	t.free = append(t.free, idx)
	t.busy--
	return done
}

// verdict classifies a packet that carries our token.
type verdict uint8

const (
	verdictForeign   verdict = iota // unknown key or wrong target: not ours after all
	verdictPending                  // ends the probe in flight
	verdictDuplicate                // the probe was already answered
	verdictLate                     // the probe already ended otherwise, or its slot was reused
)

// lookup classifies the packet with key for target.
func (t *table) lookup(key uint64, seq uint16, target netip.Addr) (uint32, verdict) {
	idx, gen := splitKey(key)
	if int64(idx) >= int64(t.n) || seqOf(idx) != seq {
		return idx, verdictForeign
	}
	s := t.at(idx)
	switch {
	case s.gen != gen:
		if gen > s.gen {
			return idx, verdictForeign // a generation we never sent
		}
		return idx, verdictLate
	case !sameAddr(s.target, target):
		return idx, verdictForeign
	case s.state == slotInFlight:
		return idx, verdictPending
	case s.state == slotFree && s.ended == endedReply:
		return idx, verdictDuplicate
	case s.state == slotFree:
		return idx, verdictLate
	}
	return idx, verdictForeign // queued: not sent yet, cannot be answered
}

// findBySeq finds the probe in flight to target whose sequence number is
// seq, for ICMP errors that quote too little of the probe to carry its key.
func (t *table) findBySeq(seq uint16, target netip.Addr) (uint32, bool) {
	for i := int(seq); i < t.n; i += 1 << 16 {
		if s := t.at(uint32(i)); s.state == slotInFlight && sameAddr(s.target, target) {
			return uint32(i), true
		}
	}
	return 0, false
}

// sameAddr compares addresses ignoring IPv6 zones (a reply's zone comes from
// the kernel's scope id, a target's from the user) and IPv4 mapping.
func sameAddr(a, b netip.Addr) bool {
	return a.Unmap().WithZone("") == b.Unmap().WithZone("")
}
