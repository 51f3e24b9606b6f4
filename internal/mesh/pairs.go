package mesh

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// Pair limits.
const (
	DefaultBuckets = 120
	MaxBuckets     = 1000
	DefaultSpan    = 3600.0 // seconds of history a pair view shows by default
)

// Bucket is one time bucket of a pair: probes sent and lost, and the RTT
// distribution of the answers (NaN, null in JSON, when none answered).
type Bucket struct {
	Time   float64  `json:"time"`
	Sent   int      `json:"sent"`
	Lost   int      `json:"lost"`
	Loss   *float64 `json:"loss"`
	Min    *float64 `json:"min_ms"`
	P10    *float64 `json:"p10_ms"`
	P25    *float64 `json:"p25_ms"`
	Median *float64 `json:"median_ms"`
	P75    *float64 `json:"p75_ms"`
	P90    *float64 `json:"p90_ms"`
	Max    *float64 `json:"max_ms"`
}

// Pair is one (source, target) pair over a time range (the
// /api/v1/pairs/{source}/{target} object).
type Pair struct {
	Source        string   `json:"source"`
	Target        string   `json:"target"`
	SourceAddress string   `json:"source_address"`
	TargetAddress string   `json:"target_address"`
	From          float64  `json:"from"`
	To            float64  `json:"to"`
	BucketSeconds float64  `json:"bucket_seconds"`
	Buckets       []Bucket `json:"buckets"`
	Events        []Event  `json:"events"`
}

// Pair returns the pair's buckets over [from, to] (to <= 0: the end of the
// history; from <= 0: DefaultSpan before to, clipped to the history).
func (s *Service) Pair(ctx context.Context, source, target string, from, to float64, buckets int) (*Pair, error) {
	snap := s.Snapshot()
	si, ok := snap.NodeIndex(source)
	if !ok {
		return nil, fmt.Errorf("source %q: %w", source, ErrNotFound)
	}
	ti, ok := snap.NodeIndex(target)
	if !ok {
		return nil, fmt.Errorf("target %q: %w", target, ErrNotFound)
	}
	if buckets <= 0 {
		buckets = DefaultBuckets
	}
	buckets = min(buckets, MaxBuckets)
	rng := s.Extent()
	if to <= 0 {
		to = rng.To
		if s.mode == ModeLive {
			to = math.Max(to, snap.Time)
		}
	}
	if from <= 0 {
		from = math.Max(to-DefaultSpan, rng.From)
	}
	if from >= to {
		from = to - 1
	}
	src, dst := snap.Nodes[si], snap.Nodes[ti]
	p := &Pair{Source: src.Name, Target: dst.Name, SourceAddress: src.Address, TargetAddress: dst.Address,
		From: round3(from), To: round3(to), Buckets: make([]Bucket, buckets)}
	step := (to - from) / float64(buckets)
	p.BucketSeconds = round3(step)
	rtts := make([][]float64, buckets)
	for i := range p.Buckets {
		p.Buckets[i].Time = round3(from + float64(i)*step)
	}
	err := s.hist.Samples(ctx, SampleFilter{From: from, To: to, Source: src.Address, Target: dst.Address}, func(sm Sample) {
		k := min(buckets-1, int((sm.Time-from)/step))
		b := &p.Buckets[k]
		b.Sent++
		if !sm.Answered {
			b.Lost++
			return
		}
		rtts[k] = append(rtts[k], sm.RTTMS)
	})
	if err != nil {
		return nil, fmt.Errorf("pair %s %s: %w", source, target, err)
	}
	for i := range p.Buckets {
		fill(&p.Buckets[i], rtts[i])
	}
	p.Events, err = s.Events(ctx, EventFilter{Source: src.Address, Target: dst.Address, Since: from, Until: to}, "")
	if err != nil {
		return nil, err
	}
	return p, nil
}

// fill sets a bucket's loss and RTT quantiles (nearest rank).
func fill(b *Bucket, rtts []float64) {
	if b.Sent > 0 {
		l := round3(float64(b.Lost) / float64(b.Sent))
		b.Loss = &l
	}
	if len(rtts) == 0 {
		return
	}
	slices.Sort(rtts)
	q := func(p float64) *float64 {
		i := int(math.Ceil(p*float64(len(rtts)))) - 1
		v := round3(rtts[max(0, min(len(rtts)-1, i))])
		return &v
	}
	b.Min, b.P10, b.P25, b.Median, b.P75, b.P90, b.Max = q(0), q(0.10), q(0.25), q(0.5), q(0.75), q(0.90), q(1)
}
