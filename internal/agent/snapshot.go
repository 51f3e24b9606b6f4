package agent

import (
	"time"
)

// Snapshot is the agent's state as /api/status serves it.
type Snapshot struct {
	Address       string           `json:"address"`
	Name          string           `json:"name"`
	Stable        bool             `json:"stable"`
	Started       time.Time        `json:"started"`
	Interval      string           `json:"interval"`
	Timeout       string           `json:"timeout"`
	Good          int              `json:"good"`  // responded = TRUE
	Total         int              `json:"total"` // total_count > 0
	StableGood    int              `json:"stable_good"`
	StableTotal   int              `json:"stable_total"`
	Sent          uint64           `json:"probes_sent"`
	Answered      uint64           `json:"probes_answered"`
	Failed        uint64           `json:"probes_failed"`
	FlushErrors   uint64           `json:"flush_errors"`
	RegistryErrs  uint64           `json:"registry_errors"`
	LastFlushMS   float64          `json:"last_flush_ms"`
	RegistryError string           `json:"registry_error,omitempty"`
	Targets       []TargetSnapshot `json:"targets"`
}

// TargetSnapshot is one target in a Snapshot.
type TargetSnapshot struct {
	Address             string     `json:"address"`
	Name                string     `json:"name"`
	Stable              bool       `json:"stable"`
	Answered            bool       `json:"answered_once"`
	Responded           bool       `json:"responded"`
	TotalCount          uint64     `json:"total_count"`
	TotalSuccess        uint64     `json:"total_success"`
	Sent                uint64     `json:"sent"`
	Received            uint64     `json:"received"`
	ConsecutiveFailures uint64     `json:"consecutive_failures"`
	RTTLastMS           float64    `json:"rtt_last_ms"`
	RTTAvgMS            float64    `json:"rtt_avg_ms"`
	DownSince           *time.Time `json:"down_since,omitempty"`
	LastReason          string     `json:"last_failure,omitempty"`
}

// Snapshot returns the agent's current state, targets in probe order.
func (a *Agent) Snapshot() Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Snapshot{
		Address: a.cfg.Self.String(), Name: a.name, Stable: a.stable, Started: a.stats.started,
		Interval: a.cfg.Interval.String(), Timeout: a.cfg.Timeout.String(),
		Sent: a.stats.sent, Answered: a.stats.answered, Failed: a.stats.failed,
		FlushErrors: a.stats.flushErrors, RegistryErrs: a.stats.registryErrors, LastFlushMS: ms(a.stats.lastFlush), RegistryError: a.regErr,
		Targets: make([]TargetSnapshot, 0, len(a.pacer.order)),
	}
	for _, addr := range a.pacer.order {
		t := a.targets[addr]
		if t == nil {
			continue
		}
		ts := TargetSnapshot{
			Address: addr.String(), Name: t.name, Stable: t.stable, Answered: t.answered, Responded: t.answered && t.up,
			TotalCount: t.totalCount, TotalSuccess: t.totalSuccess, Sent: t.sent, Received: t.received,
			ConsecutiveFailures: t.consecutiveFailures, RTTLastMS: ms(t.rttLast), LastReason: t.lastReason,
		}
		if t.received > 0 {
			ts.RTTAvgMS = ms(t.rttSum) / float64(t.received)
		}
		if !t.downSince.IsZero() {
			d := t.downSince
			ts.DownSince = &d
		}
		if ts.TotalCount > 0 {
			s.Total++
			if t.stable {
				s.StableTotal++
			}
		}
		if ts.Responded {
			s.Good++
			if t.stable {
				s.StableGood++
			}
		}
		s.Targets = append(s.Targets, ts)
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
