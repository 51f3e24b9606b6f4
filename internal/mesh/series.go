package mesh

import (
	"context"
	"math"
	"slices"
)

// MaxSeries bounds the points of a Series.
const MaxSeries = 720

// Series is the counts over time as parallel arrays, oldest first.
type Series struct {
	Time          Floats `json:"time"`
	StableGood    []int  `json:"stable_good"`
	StableTotal   []int  `json:"stable_total"`
	DynamicGood   []int  `json:"dynamic_good"`
	DynamicTotal  []int  `json:"dynamic_total"`
	AgentsRunning []int  `json:"agents_running"`
}

func newSeries() *Series {
	return &Series{Time: Floats{}, StableGood: []int{}, StableTotal: []int{}, DynamicGood: []int{},
		DynamicTotal: []int{}, AgentsRunning: []int{}}
}

// add appends one point, dropping the oldest beyond MaxSeries.
func (s *Series) add(t float64, n Now) {
	if len(s.Time) >= MaxSeries {
		s.Time = slices.Delete(s.Time, 0, 1)
		s.StableGood = slices.Delete(s.StableGood, 0, 1)
		s.StableTotal = slices.Delete(s.StableTotal, 0, 1)
		s.DynamicGood = slices.Delete(s.DynamicGood, 0, 1)
		s.DynamicTotal = slices.Delete(s.DynamicTotal, 0, 1)
		s.AgentsRunning = slices.Delete(s.AgentsRunning, 0, 1)
	}
	s.Time = append(s.Time, round3(t))
	s.StableGood = append(s.StableGood, n.Stable.Good)
	s.StableTotal = append(s.StableTotal, n.Stable.Total)
	s.DynamicGood = append(s.DynamicGood, n.Dynamic.Good)
	s.DynamicTotal = append(s.DynamicTotal, n.Dynamic.Total)
	s.AgentsRunning = append(s.AgentsRunning, n.AgentsRunning)
}

// clone copies s for a reader while the ticker appends.
func (s *Series) clone() *Series {
	return &Series{Time: slices.Clone(s.Time), StableGood: slices.Clone(s.StableGood), StableTotal: slices.Clone(s.StableTotal),
		DynamicGood: slices.Clone(s.DynamicGood), DynamicTotal: slices.Clone(s.DynamicTotal), AgentsRunning: slices.Clone(s.AgentsRunning)}
}

// rebuildSeries computes the counts at n evenly spaced moments of [from, to]
// from the events (which carry every transition of the counting rule: a
// pair counts from its first answer, and is good while its last transition
// is up) and the samples (an agent runs while it records samples).
func rebuildSeries(ctx context.Context, h History, stable func(address string) bool, from, to, stale float64) (*Series, error) {
	s := newSeries()
	if to <= from {
		return s, nil
	}
	n := MaxSeries
	step := (to - from) / float64(n-1)
	evs, err := h.Events(ctx, EventFilter{Until: to})
	if err != nil {
		return nil, err
	}
	slices.Reverse(evs) // oldest first
	active := map[string][]bool{}
	err = h.Samples(ctx, SampleFilter{From: from - stale, To: to}, func(sm Sample) {
		a := active[sm.Source]
		if a == nil {
			a = make([]bool, n)
			active[sm.Source] = a
		}
		// A sample keeps its agent "running" until stale has passed.
		lo := max(0, int(math.Ceil((sm.Time-from)/step)))
		hi := min(n-1, int(math.Floor((sm.Time+stale-from)/step)))
		for k := lo; k <= hi; k++ {
			a[k] = true
		}
	})
	if err != nil {
		return nil, err
	}
	type pair struct{ src, dst string }
	up := map[pair]bool{}
	var now Now
	next := 0
	for k := 0; k < n; k++ {
		t := from + float64(k)*step
		for ; next < len(evs) && evs[next].Time <= t; next++ {
			e := evs[next]
			p := pair{e.SourceAddress, e.TargetAddress}
			c := &now.Dynamic
			if stable(e.TargetAddress) {
				c = &now.Stable
			}
			was, counted := up[p]
			isUp := e.State == "up"
			if !counted {
				c.Total++
			}
			if was && !isUp {
				c.Good--
			} else if !was && isUp {
				c.Good++
			}
			up[p] = isUp
		}
		now.AgentsRunning = 0
		for _, a := range active {
			if a[k] {
				now.AgentsRunning++
			}
		}
		s.add(t, now)
	}
	return s, nil
}
