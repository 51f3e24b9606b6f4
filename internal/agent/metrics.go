package agent

import (
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
		"Targets by state: good (responded) and total (answered once), all or stable only.", []string{"state", "stable_only"}, nil)
	descSent        = prometheus.NewDesc("pmonitor_probes_sent_total", "Probes whose result the agent recorded.", nil, nil)
	descFlushErrors = prometheus.NewDesc("pmonitor_flush_errors_total",
		"Batches that could not be written to the working database (retried).", nil, nil)
	descFlushSeconds = prometheus.NewDesc("pmonitor_last_flush_seconds", "Duration of the last batch write.", nil, nil)
	descRegistryUp   = prometheus.NewDesc("pmonitor_registry_up", "1 if the registry was reachable at the last poll.", nil, nil)
	descRegistryErrs = prometheus.NewDesc("pmonitor_registry_errors_total",
		"Polls of the registry that failed (missing, locked, unreadable); the agent kept probing the last known targets.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descRTT, descProbes, descTargets, descSent, descFlushErrors, descFlushSeconds, descRegistryUp, descRegistryErrs} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.a.Snapshot()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, t := range s.Targets {
		if t.Answered {
			gauge(descUp, b2f(t.Responded), t.Address, t.Name, boolLabel(t.Stable))
		}
		if t.Received > 0 {
			gauge(descRTT, t.RTTLastMS/1000, t.Address, t.Name)
		}
		counter(descProbes, float64(t.Received), t.Address, t.Name, "answered")
		counter(descProbes, float64(t.Sent-t.Received), t.Address, t.Name, "failed")
	}
	gauge(descTargets, float64(s.Good), "good", "false")
	gauge(descTargets, float64(s.Total), "total", "false")
	gauge(descTargets, float64(s.StableGood), "good", "true")
	gauge(descTargets, float64(s.StableTotal), "total", "true")
	counter(descSent, float64(s.Sent))
	counter(descFlushErrors, float64(s.FlushErrors))
	gauge(descFlushSeconds, s.LastFlushMS/1000)
	gauge(descRegistryUp, b2f(s.RegistryError == ""))
	counter(descRegistryErrs, float64(s.RegistryErrs))
}

func b2f(b bool) float64 {
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
