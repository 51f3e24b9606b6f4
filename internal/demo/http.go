package demo

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pmonitor/pmonitor/internal/httpserve"
)

// handler serves the latest snapshot on its own mux:
//
//	/healthz     200 "ok"
//	/api/status  the Snapshot as JSON: per node its agent's status and view of every target
//	/metrics     Prometheus text, from a collector on a private registry
//
// With dash (the dashboard, internal/web) everything but /api/status is
// the dashboard's, whose /metrics carries the demo's collector too.
func handler(latest func() Snapshot, dash http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(latest())
	})
	if dash != nil {
		mux.Handle("/", dash)
		return mux
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{latest: latest})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

var (
	descPairUp = prometheus.NewDesc("pmonitor_demo_pair_up",
		"1 if the source agent's last counted probe of the target was answered.", []string{"source", "target"}, nil)
	descLinkUp = prometheus.NewDesc("pmonitor_demo_link_up",
		"1 if the node's emulated uplink is up.", []string{"node"}, nil)
	descAgentUp = prometheus.NewDesc("pmonitor_demo_agent_running",
		"1 if the node's agent process runs.", []string{"node"}, nil)
	descPairs = prometheus.NewDesc("pmonitor_demo_pairs",
		"(agent, target) pairs by target kind and state: good answered their last counted probe, total have answered once.",
		[]string{"kind", "state"}, nil)
	descCuts = prometheus.NewDesc("pmonitor_demo_link_cuts_total",
		"Link cuts injected since the demo started.", nil, nil)
)

// collector turns the latest snapshot into metrics at scrape time.
type collector struct{ latest func() Snapshot }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPairUp, descLinkUp, descAgentUp, descPairs, descCuts} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.latest()
	gauge := func(d *prometheus.Desc, v bool, labels ...string) {
		f := 0.0
		if v {
			f = 1
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, f, labels...)
	}
	for _, n := range s.Nodes {
		gauge(descLinkUp, n.LinkUp, n.Name)
		gauge(descAgentUp, n.Agent.Running, n.Name)
		for _, t := range n.Agent.Targets {
			gauge(descPairUp, t.Responded, n.Name, t.Name)
		}
	}
	for _, p := range []struct {
		kind string
		good int
		all  int
	}{{"stable", s.Stable.Good, s.Stable.Total}, {"dynamic", s.Dynamic.Good, s.Dynamic.Total}} {
		ch <- prometheus.MustNewConstMetric(descPairs, prometheus.GaugeValue, float64(p.good), p.kind, "good")
		ch <- prometheus.MustNewConstMetric(descPairs, prometheus.GaugeValue, float64(p.all), p.kind, "total")
	}
	ch <- prometheus.MustNewConstMetric(descCuts, prometheus.CounterValue, float64(s.Cuts))
}

// checkListen accepts only loopback addresses: the demo's API is for the
// machine it runs on.
func checkListen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if a, err := netip.ParseAddr(host); err != nil || !a.IsLoopback() {
		return fmt.Errorf("--listen %q: want a loopback address such as 127.0.0.1:9300", addr)
	}
	return nil
}

// serve runs h on addr (a loopback address) until the returned stop is
// called, and returns the address bound.
func serve(addr string, h http.Handler, log *slog.Logger) (stop func(), bound string, err error) {
	if err := checkListen(addr); err != nil {
		return nil, "", err
	}
	return httpserve.Start(addr, h, log)
}
