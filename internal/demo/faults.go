package demo

import (
	"math/rand/v2"
	"slices"
	"time"
)

// schedule decides when each dynamic node loses and regains its uplink:
// every node alternates an up phase and a down phase of random lengths
// drawn from a generator seeded once, so a seed replays the same schedule.
// The bounds grow with the probing round (interval + timeout) so that every
// outage lasts long enough to be detected.
type schedule struct {
	rng               *rand.Rand
	upMin, upSpan     time.Duration
	downMin, downSpan time.Duration
	names             []string
	next              map[string]time.Time // when the node's link flips next
	down              map[string]bool
}

// flip is one link change the schedule asks for.
type flip struct {
	node string
	up   bool
}

// newSchedule starts every node up, each with its own first up phase.
func newSchedule(names []string, seed uint64, start time.Time, round time.Duration) *schedule {
	s := &schedule{
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		upMin:    max(15*time.Second, 5*round),
		upSpan:   25 * time.Second,
		downMin:  max(8*time.Second, 3*round),
		downSpan: 12 * time.Second,
		names:    slices.Clone(names),
		next:     map[string]time.Time{},
		down:     map[string]bool{},
	}
	for _, n := range s.names {
		s.next[n] = start.Add(s.phase(false))
	}
	return s
}

// phase draws the length of a down phase (down) or an up phase.
func (s *schedule) phase(down bool) time.Duration {
	lo, span := s.upMin, s.upSpan
	if down {
		lo, span = s.downMin, s.downSpan
	}
	return lo + time.Duration(s.rng.Int64N(int64(span)))
}

// due returns the flips due at now, in node order, and schedules the
// following ones.
func (s *schedule) due(now time.Time) []flip {
	var out []flip
	for _, n := range s.names {
		if now.Before(s.next[n]) {
			continue
		}
		s.down[n] = !s.down[n]
		out = append(out, flip{node: n, up: !s.down[n]})
		s.next[n] = s.next[n].Add(s.phase(s.down[n]))
	}
	return out
}

// nextAt returns when the earliest flip is due (zero without dynamic nodes).
func (s *schedule) nextAt() time.Time {
	var t time.Time
	for _, n := range s.names {
		if t.IsZero() || s.next[n].Before(t) {
			t = s.next[n]
		}
	}
	return t
}

// nextChange returns when node's link flips next (zero for a stable node).
func (s *schedule) nextChange(node string) time.Time { return s.next[node] }

// fault is one link cut as it happened.
type fault struct {
	Node string    `json:"node"`
	Down time.Time `json:"down"`
	Up   time.Time `json:"up,omitzero"` // zero while (or if the run ended while) the link was down
}

// faultLog records the cuts applied, for the view and the summary.
type faultLog []fault

// apply records a flip applied at t.
func (f *faultLog) apply(fl flip, t time.Time) {
	if !fl.up {
		*f = append(*f, fault{Node: fl.node, Down: t})
		return
	}
	for i := len(*f) - 1; i >= 0; i-- {
		if (*f)[i].Node == fl.node && (*f)[i].Up.IsZero() {
			(*f)[i].Up = t
			return
		}
	}
}

// isolated reports whether node's link was down at t, or came back less
// than slack before t (its agent's probes are still failing then).
func (f faultLog) isolated(node string, t time.Time, slack time.Duration) bool {
	for _, c := range f {
		if c.Node == node && !t.Before(c.Down) && (c.Up.IsZero() || t.Before(c.Up.Add(slack))) {
			return true
		}
	}
	return false
}
