package mesh

import "slices"

// The live mesh's loss over a window comes from the sent and received
// counters of the working databases' targets rows, remembered every
// lossStep for lossSpan: no samples query per tick.
const (
	lossStep = 5.0
	lossSpan = 125.0
)

// lossMark is one agent's counters at one moment, aligned with addrs.
type lossMark struct {
	t          float64
	sent, recv []uint32
}

// lossRing remembers the counters of one agent.
type lossRing struct {
	addrs []string // the targets rows' addresses the marks are aligned with
	marks []lossMark
}

// lossBook is the rings of every agent, by agent address.
type lossBook map[string]*lossRing

// record remembers the counters of v at time now (at most every lossStep).
func (b lossBook) record(v *View, now float64) {
	if v.State == StateUnavailable || v.Node.Address == "" {
		return
	}
	r := b[v.Node.Address]
	if r == nil {
		r = &lossRing{}
		b[v.Node.Address] = r
	}
	if !sameAddrs(r.addrs, v.Rows) {
		r.addrs = make([]string, len(v.Rows))
		for i, row := range v.Rows {
			r.addrs[i] = row.Address
		}
		r.marks = nil
	}
	if n := len(r.marks); n > 0 && now-r.marks[n-1].t < lossStep {
		return
	}
	m := lossMark{t: now, sent: make([]uint32, len(v.Rows)), recv: make([]uint32, len(v.Rows))}
	for i, row := range v.Rows {
		m.sent[i], m.recv[i] = uint32(row.Sent), uint32(row.Received)
	}
	drop := 0
	for drop < len(r.marks) && now-r.marks[drop].t > lossSpan {
		drop++
	}
	r.marks = append(slices.Delete(r.marks, 0, drop), m)
}

func sameAddrs(addrs []string, rows []Row) bool {
	if len(addrs) != len(rows) {
		return false
	}
	for i := range rows {
		if addrs[i] != rows[i].Address {
			return false
		}
	}
	return true
}

// losses returns, aligned with v.Rows, the loss ratio between the oldest
// mark within window before now and v's counters (NaN where nothing was
// sent), and whether the ring covers the whole window.
func (b lossBook) losses(v *View, now, window float64) ([]float64, bool) {
	out := make([]float64, len(v.Rows))
	for i := range out {
		out[i] = nan
	}
	r := b[v.Node.Address]
	if r == nil || !sameAddrs(r.addrs, v.Rows) {
		return out, false
	}
	var base *lossMark
	for i := range r.marks {
		if r.marks[i].t >= now-window-lossStep/2 {
			base = &r.marks[i]
			break
		}
	}
	if base == nil {
		return out, false
	}
	for i, row := range v.Rows {
		sent := uint32(row.Sent) - base.sent[i]
		if sent == 0 {
			continue
		}
		recv := uint32(row.Received) - base.recv[i]
		out[i] = round3(float64(sent-min(recv, sent)) / float64(sent))
	}
	return out, now-base.t >= window-lossStep
}
