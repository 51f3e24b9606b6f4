package agent

import (
	"time"

	"github.com/pmonitor/pmonitor/internal/probe"
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
	LocalDrops    uint64           `json:"probes_local_drop"` // timeouts not counted: replies dropped by this host
	Skipped       uint64           `json:"probes_skipped"`    // sends skipped: maxInFlight probes pending
	SocketDrops   uint64           `json:"socket_drops"`      // packets the kernel dropped on the probe sockets (SO_RXQ_OVFL)
	FlushErrors   uint64           `json:"flush_errors"`
	RegistryErrs  uint64           `json:"registry_errors"`
	LastFlushMS   float64          `json:"last_flush_ms"`
	RegistryUp    bool             `json:"registry_up"`
	RegistryError string           `json:"registry_error,omitempty"`
	Healthy       bool             `json:"healthy"`
	Problem       string           `json:"problem,omitempty"` // why not healthy
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

// Snapshot returns the agent's current state, targets in probe order. It
// holds each target's lock only while copying that target.
func (a *Agent) Snapshot() Snapshot {
	st := &a.stats
	problem := a.problem(a.cfg.Now())
	s := Snapshot{
		Address: a.cfg.Self.String(), Started: st.started,
		Interval: a.cfg.Interval.String(), Timeout: a.cfg.Timeout.String(),
		Sent: st.sent.Load(), Answered: st.answered.Load(), Failed: st.failed.Load(),
		LocalDrops: st.localDrops.Load(), Skipped: st.skipped.Load(), SocketDrops: a.socketDrops(),
		FlushErrors: st.flushErrors.Load(), RegistryErrs: st.registryErrors.Load(),
		LastFlushMS: ms(time.Duration(st.lastFlush.Load())),
		RegistryUp:  a.health.registryUp(), RegistryError: a.health.registryErr(),
		Healthy: problem == "", Problem: problem,
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	s.Name, s.Stable = a.name, a.stable
	s.Targets = make([]TargetSnapshot, 0, len(a.order))
	for _, addr := range a.order {
		t := a.targets[addr]
		if t == nil {
			continue
		}
		ts := t.snapshot()
		if ts.TotalCount > 0 {
			s.Total++
			if ts.Stable {
				s.StableTotal++
			}
		}
		if ts.Responded {
			s.Good++
			if ts.Stable {
				s.StableGood++
			}
		}
		s.Targets = append(s.Targets, ts)
	}
	return s
}

// socketDrops is the prober's count of packets the kernel dropped, if it
// keeps one.
func (a *Agent) socketDrops() uint64 {
	if p, ok := a.cfg.Prober.(interface{ Stats() probe.Stats }); ok {
		return p.Stats().SocketDrops
	}
	return 0
}

// snapshot copies the target under its lock.
func (t *target) snapshot() TargetSnapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	addr := t.addr
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
	return ts
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
