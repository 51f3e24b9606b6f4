package mesh

import (
	"context"
	"math"
)

// Sample is one probe of the samples history.
type Sample struct {
	Source   string  // the agent's address
	Target   string  // the target's address
	Time     float64 // epoch seconds when the probe was sent
	Answered bool
	RTTMS    float64 // NaN when not answered
}

// Event is an up/down transition seen by an agent.
type Event struct {
	Time          float64  `json:"time"`
	Source        string   `json:"source"`
	SourceAddress string   `json:"source_address"`
	Target        string   `json:"target"`
	TargetAddress string   `json:"target_address"`
	Stable        bool     `json:"stable"`
	State         string   `json:"state"`
	Reason        *string  `json:"reason"`
	Outage        *float64 `json:"outage_seconds"`
	seq           int64    // rowid in its database, for the stream's watermark
}

// EventFilter selects events. Zero fields select everything.
type EventFilter struct {
	Since, Until float64  // Since < time <= Until (Until 0: no bound)
	Node         string   // source or target name
	Source       string   // source address
	Target       string   // target address
	Targets      []string // target addresses (the kind filter); nil: all
	Limit        int      // newest first; 0: all
}

// PairState is what the events say about one (agent, target) pair at a
// moment: its last transition and whether it has ever answered.
type PairState struct {
	Source, Target string // addresses
	Up             bool   // the last transition was up
	Since          float64
}

// SampleFilter selects samples: From < time <= To, of one source and one
// target address when set.
type SampleFilter struct {
	From, To       float64
	Source, Target string
}

// History is the samples and events of every agent: the working databases
// of a live deployment, or an analysis database. Implementations are safe
// for concurrent use.
type History interface {
	// Extent returns the time span of the samples (0, 0 when empty).
	Extent(ctx context.Context) (from, to float64, err error)
	// Samples calls fn for each sample selected by f, in time order per source.
	Samples(ctx context.Context, f SampleFilter, fn func(Sample)) error
	// Events returns the events selected by f, newest first.
	Events(ctx context.Context, f EventFilter) ([]Event, error)
	// PairStates returns, per pair that has answered once by time at, its
	// last transition at or before at.
	PairStates(ctx context.Context, at float64) ([]PairState, error)
	// Interval estimates the agents' probe interval from the samples of
	// the minute before at; 0 when unknown.
	Interval(ctx context.Context, at float64) (float64, error)
}

// newest sorts events newest first and keeps at most limit (0: all).
func newest(evs []Event, limit int) []Event {
	sortEvents(evs)
	if limit > 0 && len(evs) > limit {
		evs = evs[:limit]
	}
	return evs
}

// estimateInterval turns a count of samples over distinct pairs in a span
// into the period between two probes of one pair, rounded to 0.1 s.
func estimateInterval(n, pairs int64, span float64) float64 {
	if n < 2*pairs || pairs == 0 || span <= 0 {
		return 0
	}
	per := float64(n) / float64(pairs) // probes per pair within span
	return math.Round(span/(per-1)*10) / 10
}
