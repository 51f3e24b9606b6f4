package agent

import (
	"net/netip"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

// rotate returns the targets to probe in the agent's order: those after its
// own row first, wrapping around, never itself. An agent that is not in the
// registry probes every target in registry order. Rows whose address does not
// parse are skipped (reported by the caller).
func rotate(targets []store.Target, self netip.Addr) (order []netip.Addr, bad []string) {
	start := 0
	for i, t := range targets {
		if a, err := netip.ParseAddr(t.Address); err == nil && a.Unmap() == self {
			start = i + 1
			break
		}
	}
	order = make([]netip.Addr, 0, len(targets))
	for i := range targets {
		t := targets[(start+i)%len(targets)]
		a, err := netip.ParseAddr(t.Address)
		if err != nil {
			bad = append(bad, t.Address)
			continue
		}
		if a = a.Unmap(); a != self {
			order = append(order, a)
		}
	}
	return order, bad
}

// pacer spreads the probes of one round evenly over the interval: one send
// every interval/len(order). It keeps its place when the list changes, so a
// new target is reached within one round. The very first round goes faster,
// up to twice the pace, so that a starting agent soon has a complete
// picture; but above warmRate probes a second only a fifth faster. A mesh
// whose agents start together would otherwise ask for twice its steady CPU:
// 1,000 nodes at --interval 30s need 33,000 probes a second in steady
// state, and 66,000 in their first round was more than two cores could
// give, so no agent finished its first round at all.
type pacer struct {
	interval time.Duration
	order    []netip.Addr
	cursor   int
	next     time.Time // when order[cursor] is due
	started  bool      // an order was installed once
	warm     int       // sends left in the first round
	anchor   time.Time // origin of the burst grid (see cell)
}

// warmRate is the probe rate up to which the first round speeds up: a
// handful of targets go at twice the pace, a large list a fifth faster.
const warmRate = 20.0

// warmGap returns the gap between two sends of the first round, given the
// steady one: twice the pace up to warmRate, and a fifth faster at least,
// so that the first round of a large list ends well within the interval
// (999 targets every 30 s: 23.8 s), and the results flushed when every
// target has answered make the first complete matrix within one interval.
func warmGap(gap time.Duration) time.Duration {
	fast := max(gap/2, time.Duration(float64(time.Second)/warmRate))
	return min(fast, gap*4/5)
}

// setOrder installs a new order, continuing with the same target where it is
// still present.
func (p *pacer) setOrder(order []netip.Addr) {
	if !p.started {
		p.started, p.warm = true, len(order)
	}
	var cur netip.Addr
	if p.cursor < len(p.order) {
		cur = p.order[p.cursor]
	}
	if len(order) != len(p.order) {
		p.anchor = p.next // a new round length: a new grid
	}
	p.order, p.cursor = order, 0
	for i, a := range order {
		if a == cur {
			p.cursor = i
			break
		}
	}
}

// gap is the time between two sends: one round takes 99 % of the interval.
// A send is never due more than an interval after the previous send to the
// same target, but on a loaded machine the timer fires late, and so does
// the deadline that ends a probe: a 1,000-node mesh saw a cut up to 45 ms
// after interval + timeout. The 1 % kept in hand (100 ms at 10 s, 300 ms
// at 30 s) absorbs that lateness, so a failure is seen within interval +
// timeout, for 1 % more probes.
func (p *pacer) gap() time.Duration {
	if len(p.order) == 0 {
		return p.interval
	}
	return p.interval * roundShare / 100 / time.Duration(len(p.order))
}

// roundShare is the share of the interval, in percent, that one round of
// probes takes (see gap).
const roundShare = 99

// due returns the targets to send now, those due before the end of the
// burst grid's current cell (see cell; without a window, those due by now),
// and when to wake up next.
func (p *pacer) due(now time.Time, window time.Duration, buf []netip.Addr) ([]netip.Addr, time.Time) {
	if len(p.order) == 0 {
		p.next = time.Time{}
		return buf, now.Add(p.interval)
	}
	gap := p.gap()
	if p.next.IsZero() || now.Sub(p.next) > p.interval {
		p.next, p.anchor = now, now // first round, or asleep for a whole round: do not burst
	}
	limit := now.Add(window) // due at or before it: sent now
	cell := p.cell(gap, window)
	if cell > 0 {
		limit = p.anchor.Add((now.Sub(p.anchor)/cell + 1) * cell) // the end of now's cell
	}
	for n := 0; n < len(p.order) && (p.next.Before(limit) || cell == 0 && p.next.Equal(limit)); n++ {
		buf = append(buf, p.order[p.cursor])
		p.cursor = (p.cursor + 1) % len(p.order)
		step := gap
		if p.warm > 0 {
			p.warm--
			step = warmGap(gap)
		}
		p.next = p.next.Add(step)
		if p.cursor == 0 || p.warm == 0 && step != gap {
			// Each round, and the first steady one, gets its own grid from
			// its first send: the same places as the round before, exactly.
			p.anchor = p.next
			break
		}
	}
	if cell > 0 {
		return buf, p.anchor.Add(p.next.Sub(p.anchor) / cell * cell) // the start of the next send's cell
	}
	return buf, p.next
}

// cell returns the width of the burst grid: the largest that divides one
// round (len(order) sends, gap apart) and is at most window; 0 without a
// window. A burst sends the targets due within one cell at the cell's
// start; the grid starts again with each round, so each target goes out
// early by the same amount every round and two sends to it are exactly a
// round apart. Bursts that began whenever the previous one ended moved a
// target's place from burst to burst: a target sent early in one round and
// on time in the next went a round plus the window without a probe, and a
// 1,000-node mesh saw a cut up to 6 ms after interval + timeout despite the
// 1 % kept in hand.
func (p *pacer) cell(gap, window time.Duration) time.Duration {
	if window <= 0 {
		return 0
	}
	round := gap * time.Duration(len(p.order))
	return round / ((round + window - 1) / window)
}
