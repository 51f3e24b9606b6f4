package agent

import (
	"strings"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
)

// collector exposes the agent's state at scrape time; nothing is kept twice.
type collector struct{ a *Agent }

var (
	descUp = prometheus.NewDesc("pmonitor_target_up",
		"1 if the target answered its last counted probe, 0 if not; absent before its first answer.",
		[]string{"target", "name", "stable"}, nil)
	descRTT = prometheus.NewDesc("pmonitor_target_rtt_seconds",
		"Round-trip time of the target's last answered probe.", []string{"target", "name"}, nil)
	descProbes = prometheus.NewDesc("pmonitor_target_probes_total",
		"Probes sent to the target, by result.", []string{"target", "name", "result"}, nil)
	descTargets = prometheus.NewDesc("pmonitor_targets",
		"Targets by state, disjoint: up (responded), down (answered once, not the last counted probe), "+
			"unanswered (never answered, not counted yet). Their sum is the target list.", []string{"state", "stable"}, nil)
	descSent        = prometheus.NewDesc("pmonitor_probes_sent_total", "Probes whose result the agent recorded.", nil, nil)
	descLocalDrops  = prometheus.NewDesc("pmonitor_probes_local_drop_total", "Timeouts not counted against their target: this host dropped replies while they were in flight.", nil, nil)
	descSkipped     = prometheus.NewDesc("pmonitor_probes_skipped_total", "Sends skipped because the target had too many probes in flight (timeout much longer than interval).", nil, nil)
	descSocketDrops = prometheus.NewDesc("pmonitor_socket_drops_total", "Packets the kernel dropped on the probe sockets, receive queue full (SO_RXQ_OVFL).", nil, nil)
	descFlushErrors = prometheus.NewDesc("pmonitor_flush_errors_total",
		"Batches that could not be written to the working database (retried).", nil, nil)
	descFlushSeconds = prometheus.NewDesc("pmonitor_last_flush_seconds", "Duration of the last batch write.", nil, nil)
	descRegistryUp   = prometheus.NewDesc("pmonitor_registry_up", "1 if the registry was read since start and answered its last poll.", nil, nil)
	descRegistryErrs = prometheus.NewDesc("pmonitor_registry_errors_total",
		"Attempts to open or poll the registry that failed (missing, locked, unreadable); the agent kept probing the last known targets.", nil, nil)
	descHealthy = prometheus.NewDesc("pmonitor_healthy", "1 if the agent can do its job (/healthz answers 200), 0 if not.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descRTT, descProbes, descTargets, descSent, descLocalDrops, descSkipped,
		descSocketDrops, descFlushErrors, descFlushSeconds, descRegistryUp, descRegistryErrs, descHealthy} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.a.Snapshot()
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		for i := range labels {
			labels[i] = labelValue(labels[i])
		}
		if m, err := prometheus.NewConstMetric(d, t, v, labels...); err == nil {
			ch <- m
		}
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) { emit(d, prometheus.GaugeValue, v, labels...) }
	counter := func(d *prometheus.Desc, v float64, labels ...string) { emit(d, prometheus.CounterValue, v, labels...) }
	var states [3][2]int // up, down, unanswered × stable false, true
	for _, t := range s.Targets {
		if t.Answered {
			gauge(descUp, b2f(t.Responded), t.Address, t.Name, boolLabel(t.Stable))
		}
		if t.Received > 0 {
			gauge(descRTT, t.RTTLastMS/1000, t.Address, t.Name)
		}
		counter(descProbes, float64(t.Received), t.Address, t.Name, "answered")
		counter(descProbes, float64(t.Sent-t.Received), t.Address, t.Name, "failed")
		st := 2
		switch {
		case t.Responded:
			st = 0
		case t.TotalCount > 0:
			st = 1
		}
		states[st][b2i(t.Stable)]++
	}
	for i, state := range []string{"up", "down", "unanswered"} {
		for j, stable := range []string{"false", "true"} {
			gauge(descTargets, float64(states[i][j]), state, stable)
		}
	}
	counter(descSent, float64(s.Sent))
	counter(descLocalDrops, float64(s.LocalDrops))
	counter(descSkipped, float64(s.Skipped))
	counter(descSocketDrops, float64(s.SocketDrops))
	counter(descFlushErrors, float64(s.FlushErrors))
	gauge(descFlushSeconds, s.LastFlushMS/1000)
	gauge(descRegistryUp, b2f(s.RegistryUp))
	counter(descRegistryErrs, float64(s.RegistryErrs))
	gauge(descHealthy, b2f(s.Healthy))
}

// labelValue makes a label value of any string: the registry is written by
// other programs too, and one name with invalid UTF-8 would otherwise fail
// every scrape. Invalid bytes and control characters become U+FFFD.
func labelValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
