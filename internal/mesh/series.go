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

// activity tells, per agent address, at which of the given moments the
// agent was running (it recorded a sample within stale before).
type activity func(ctx context.Context, times []float64, stale float64) (map[string][]bool, error)

// rebuildSeries computes the counts at MaxSeries evenly spaced moments of
// [from, to] of a replay.
func rebuildSeries(ctx context.Context, h History, stable func(address string) bool, from, to, stale float64) (*Series, error) {
	if to <= from {
		return newSeries(), nil
	}
	return seriesAt(ctx, h, stable, from, (to-from)/float64(MaxSeries-1), MaxSeries, stale, scanActivity(h))
}

// seriesAt computes the counts at the n moments from, from+step, ... from
// the events (which carry every transition of the counting rule: a pair
// counts from its first answer, and is good while its last transition is
// up) and the agents' activity.
func seriesAt(ctx context.Context, h History, stable func(address string) bool, from, step float64, n int, stale float64, act activity) (*Series, error) {
	s := newSeries()
	if n <= 0 || step <= 0 {
		return s, nil
	}
	times := make([]float64, n)
	for k := range times {
		times[k] = from + float64(k)*step
	}
	to := times[n-1]
	type pair struct{ src, dst string }
	up := map[pair]bool{}
	var now Now
	count := func(src, dst string, isUp bool) {
		p := pair{src, dst}
		c := &now.Dynamic
		if stable(dst) {
			c = &now.Stable
		}
		was, counted := up[p]
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
	// The state at from, then the transitions after it.
	before, err := h.PairStates(ctx, from)
	if err != nil {
		return nil, err
	}
	for _, ps := range before {
		count(ps.Source, ps.Target, ps.Up)
	}
	evs, err := h.Events(ctx, EventFilter{Since: from, Until: to})
	if err != nil {
		return nil, err
	}
	slices.Reverse(evs) // oldest first
	active, err := act(ctx, times, stale)
	if err != nil {
		return nil, err
	}
	next := 0
	for k, t := range times {
		for ; next < len(evs) && evs[next].Time <= t; next++ {
			count(evs[next].SourceAddress, evs[next].TargetAddress, evs[next].State == "up")
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

// scanActivity reads every sample of the span once: right for an analysis
// database, whose history is read once.
func scanActivity(h History) activity {
	return func(ctx context.Context, times []float64, stale float64) (map[string][]bool, error) {
		active := map[string][]bool{}
		n := len(times)
		if n == 0 {
			return active, nil
		}
		from, step := times[0], 1.0
		if n > 1 {
			step = times[1] - times[0]
		}
		err := h.Samples(ctx, SampleFilter{From: from - stale, To: times[n-1]}, func(sm Sample) {
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
		return active, err
	}
}
