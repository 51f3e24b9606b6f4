package browsertest

import (
	"fmt"
	"github.com/pmonitor/pmonitor/internal/mesh"
	"math"
	"math/rand/v2"
	"sort"
)

// The fixture mesh: n nodes, the first two thirds stable ("sat…"), the rest
// dynamic ("gs…"). Node dead is cut: its agent is not running (its row
// stale) and nobody reaches it (its column down), a Pingmesh cross. A few
// pairs never answered and a few have no data. Between cutFrom and cutTo
// seconds after base the same node is cut in the history; outside it the
// history is all up, so the time scrubber has something to show.

type fxNode struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Stable  bool   `json:"stable"`
}

type fxAgent struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

type fxMesh struct {
	Time          float64    `json:"time"`
	WindowSeconds float64    `json:"window_seconds"`
	Nodes         []fxNode   `json:"nodes"`
	Rows          []int      `json:"rows"`
	Cols          []int      `json:"cols"`
	Agents        []fxAgent  `json:"agents"`
	State         string     `json:"state"`
	RTT           []*float64 `json:"rtt_ms"`
	Loss          []*float64 `json:"loss"`
	Since         []*float64 `json:"since"`
}

type fxEvent struct {
	Time          float64  `json:"time"`
	Source        string   `json:"source"`
	Target        string   `json:"target"`
	TargetAddress string   `json:"target_address"`
	Stable        bool     `json:"stable"`
	State         string   `json:"state"`
	Reason        *string  `json:"reason"`
	Outage        *float64 `json:"outage_seconds"`
}

const (
	fxSpan    = 3600.0 // seconds of history
	fxCutFrom = 1800.0
	fxCutTo   = 2400.0
	fxGapFrom = 900.0 // a minute in which no probe was sent (every pair)
)

func fxNodes(n int) []fxNode {
	nodes := make([]fxNode, n)
	stable := (2*n + 2) / 3
	for i := range nodes {
		name := fmt.Sprintf("sat%d", i+1)
		if i >= stable {
			name = fmt.Sprintf("gs%d", i-stable+1)
		}
		nodes[i] = fxNode{Name: name, Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255+1), Stable: i < stable}
	}
	return nodes
}

func ptr(v float64) *float64 { return &v }

// mesh builds the mesh at time t; cut tells whether dead is cut then;
// gen varies the RTTs so that every stream push redraws something.
func (f *fixture) mesh(t float64, cut bool, gen int) fxMesh {
	n := len(f.nodes)
	m := fxMesh{Time: t, WindowSeconds: 60, Nodes: f.nodes, State: "", Agents: make([]fxAgent, n)}
	m.Rows, m.Cols = make([]int, n), make([]int, n)
	for i := range n {
		m.Rows[i], m.Cols[i] = i, i
		m.Agents[i] = fxAgent{State: "running"}
	}
	if cut {
		m.Agents[f.dead] = fxAgent{State: "stopped", Reason: "no heartbeat for 12 s"}
	}
	st := make([]byte, n*n)
	m.RTT, m.Loss, m.Since = make([]*float64, n*n), make([]*float64, n*n), make([]*float64, n*n)
	rng := rand.New(rand.NewPCG(uint64(gen), 7))
	for i := range n {
		for j := range n {
			k := i*n + j
			switch {
			case i == j:
				st[k] = '='
			case cut && i == f.dead:
				st[k] = 's'
			case cut && j == f.dead:
				st[k] = 'd'
				m.Loss[k], m.Since[k] = ptr(1), ptr(f.base+fxSpan-120)
			case (i*7+j*3)%97 == 5:
				st[k] = 'n'
			case (i*5+j*11)%89 == 3:
				st[k] = '-'
			default:
				st[k] = 'u'
				// Satellites reach each other in 0.1 to 8 ms; a link with a
				// ground station takes 20 to 120 ms.
				rtt := 0.08 + float64((i*31+j*17)%23)*0.35 + rng.Float64()*0.2
				if !f.nodes[i].Stable || !f.nodes[j].Stable {
					rtt = 20 + float64((i*7+j*13)%50)*2 + rng.Float64()
				}
				m.RTT[k] = ptr(math.Round(rtt*1000) / 1000)
				m.Loss[k] = ptr(0)
				if (i+j*13)%41 == 0 {
					m.Loss[k] = ptr(0.05)
				}
				m.Since[k] = ptr(f.base + 12)
			}
		}
	}
	m.State = string(st)
	return m
}

// events lists the fixture's transitions, newest first: the cut in the
// history (down then up, for the first few agents) and the live cut.
func (f *fixture) events() []fxEvent {
	var ev []fxEvent
	dead := f.nodes[f.dead]
	timeout := "timeout"
	for i, src := range f.nodes {
		if i == f.dead || i > 6 {
			continue
		}
		ev = append(ev,
			fxEvent{Time: f.base + fxCutFrom + float64(i)*0.2, Source: src.Name, Target: dead.Name, TargetAddress: dead.Address, Stable: dead.Stable, State: "down", Reason: &timeout, Outage: ptr(fxCutTo - fxCutFrom)},
			fxEvent{Time: f.base + fxCutTo + float64(i)*0.2, Source: src.Name, Target: dead.Name, TargetAddress: dead.Address, Stable: dead.Stable, State: "up", Outage: ptr(fxCutTo - fxCutFrom)},
			fxEvent{Time: f.base + fxSpan - 120 + float64(i)*0.2, Source: src.Name, Target: dead.Name, TargetAddress: dead.Address, Stable: dead.Stable, State: "down", Reason: &timeout},
		)
	}
	sort.Slice(ev, func(a, b int) bool { return ev[a].Time > ev[b].Time })
	return ev
}

// buckets makes n RTT buckets over [from, to) for a pair: a noisy baseline,
// some lossy buckets, a minute with no probe at all (fxGapFrom), and every
// probe lost while target is cut.
func (f *fixture) buckets(src, dst int, from, to float64, n int) []mesh.Bucket {
	bs := (to - from) / float64(n)
	rng := rand.New(rand.NewPCG(uint64(src), uint64(dst)))
	out := make([]mesh.Bucket, n)
	for k := range out {
		t := from + float64(k)*bs
		b := mesh.Bucket{Time: t, Sent: max(1, int(bs/2)), Loss: ptr(0)}
		rel := t - f.base
		if rel >= fxGapFrom && rel < fxGapFrom+60 {
			out[k] = mesh.Bucket{Time: t}
			continue
		}
		if dst == f.dead && (rel >= fxCutFrom && rel < fxCutTo || rel >= fxSpan-120) {
			b.Lost, b.Loss = b.Sent, ptr(1)
			out[k] = b
			continue
		}
		if rng.IntN(9) == 0 {
			b.Lost = 1 + rng.IntN(max(1, b.Sent/3))
			b.Loss = ptr(float64(b.Lost) / float64(b.Sent))
		}
		base := 0.3 + 0.2*math.Sin(rel/600) + float64(abs(src-dst))*0.05
		q := []float64{0, 0.03, 0.08, 0.15, 0.25, 0.45, 1.2}
		fs := make([]float64, len(q))
		for i, d := range q {
			fs[i] = math.Round((base+d*(0.5+rng.Float64()))*1000) / 1000
		}
		sort.Float64s(fs)
		vals := make([]*float64, len(q))
		for i := range fs {
			vals[i] = &fs[i]
		}
		b.Min, b.P10, b.P25, b.Median, b.P75, b.P90, b.Max = vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6]
		out[k] = b
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
