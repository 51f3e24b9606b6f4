package agent

import (
	"fmt"
	"sync"
	"time"
)

// staleSends is how many intervals (plus one timeout) may pass without a
// probe sent before the agent calls itself unhealthy.
const staleSends = 3

// health is what /healthz and pmonitor_healthy report: the registry's state
// and the working database's last write. It has its own lock so that
// health checks never wait for the probe path.
type health struct {
	mu       sync.Mutex
	read     bool   // the registry was read once since start
	regErr   string // last registry problem, "" when reachable
	writeErr string // last working database write error, "" after a success
}

// registryRead records a successful read of the registry.
func (h *health) registryRead() {
	h.mu.Lock()
	h.read = true
	h.mu.Unlock()
}

// setRegistryErr records the registry's state ("" reachable) and returns
// the previous one.
func (h *health) setRegistryErr(e string) (was string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	was, h.regErr = h.regErr, e
	return was
}

// setWriteErr records the outcome of a write ("" success) and returns the
// previous one: the caller logs changes, not repetitions.
func (h *health) setWriteErr(e string) (was string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	was, h.writeErr = h.writeErr, e
	return was
}

func (h *health) registryErr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.regErr
}

// registryUp reports whether the registry was read since start and
// answered its last poll.
func (h *health) registryUp() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.read && h.regErr == ""
}

// problem says why the agent cannot do its job at now, "" if it can. A
// registry lost after a first read is not one: the agent keeps probing the
// last known targets (pmonitor_registry_up says so).
func (a *Agent) problem(now time.Time) string {
	h := &a.health
	h.mu.Lock()
	read, regErr, writeErr := h.read, h.regErr, h.writeErr
	h.mu.Unlock()
	switch {
	case !read && regErr != "":
		return "registry never read since start: " + regErr
	case !read:
		return "registry never read since start"
	case writeErr != "":
		return "working database writes failing: " + writeErr
	}
	a.mu.RLock()
	n := len(a.order)
	a.mu.RUnlock()
	// A timeout longer than maxInFlight intervals rightly holds sends back.
	last := time.Unix(0, a.stats.lastSend.Load())
	if stale := staleSends*a.cfg.Interval + a.cfg.Timeout; n > 0 && now.Sub(last) > stale {
		return fmt.Sprintf("no probe sent for %v (more than %d intervals)", now.Sub(last).Round(time.Millisecond), staleSends)
	}
	return ""
}
