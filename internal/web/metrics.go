package web

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pmonitor/pmonitor/internal/mesh"
)

var (
	descPairUp = prometheus.NewDesc("pmonitor_pair_up",
		"1 if the source agent's last counted probe of the target was answered (running agents, pairs that answered once).",
		[]string{"source", "target", "stable"}, nil)
	descPairRTT = prometheus.NewDesc("pmonitor_pair_rtt_seconds",
		"Round-trip time of the source agent's last answered probe of the target.", []string{"source", "target"}, nil)
	descPairLoss = prometheus.NewDesc("pmonitor_pair_loss_ratio",
		"Share of the source agent's probes of the target lost over the dashboard's loss window.", []string{"source", "target"}, nil)
	descAgents = prometheus.NewDesc("pmonitor_serve_agents",
		"Agents (nodes with a working database) by state: running, stopped, unavailable.", []string{"state"}, nil)
	descRefresh = prometheus.NewDesc("pmonitor_serve_refresh_seconds",
		"Duration of the last read of the databases.", nil, nil)
	descRefreshes = prometheus.NewDesc("pmonitor_serve_refreshes_total",
		"Reads of the databases since serve started.", nil, nil)
	descRefreshErrors = prometheus.NewDesc("pmonitor_serve_refresh_errors_total",
		"Reads of the databases that failed.", nil, nil)
	descClients = prometheus.NewDesc("pmonitor_serve_stream_clients",
		"Clients connected to /api/v1/stream.", nil, nil)
	descDBReads = prometheus.NewDesc("pmonitor_serve_database_reads_total",
		"Working database reads by the ticks: read, or skipped because the file had not changed.", []string{"result"}, nil)
)

// serveStats are serve's own figures.
type serveStats struct {
	mu                  sync.Mutex
	last                time.Duration
	refreshes, failures uint64
	clients             int
}

func (st *serveStats) refreshed(d time.Duration, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.last = d
	st.refreshes++
	if err != nil {
		st.failures++
	}
}

func (st *serveStats) streamClients(delta int) {
	st.mu.Lock()
	st.clients += delta
	st.mu.Unlock()
}

// collector turns the latest reading into metrics at scrape time.
type collector struct{ s *Server }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPairUp, descPairRTT, descPairLoss, descAgents, descRefresh,
		descRefreshes, descRefreshErrors, descClients, descDBReads} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	svc := c.s.svc
	snap := svc.Snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := svc.Mesh(ctx, -1, 0)
	if err == nil {
		pairMetrics(ch, m)
	}
	states := map[string]int{mesh.StateRunning: 0, mesh.StateStopped: 0, mesh.StateUnavailable: 0}
	for _, v := range snap.Views {
		states[v.State]++
	}
	for st, n := range states {
		ch <- prometheus.MustNewConstMetric(descAgents, prometheus.GaugeValue, float64(n), st)
	}
	if rs, ok := svc.ReadStats(); ok {
		ch <- prometheus.MustNewConstMetric(descDBReads, prometheus.CounterValue, float64(rs.Reads), "read")
		ch <- prometheus.MustNewConstMetric(descDBReads, prometheus.CounterValue, float64(rs.Skipped), "skipped")
	}
	st := c.s.stats
	st.mu.Lock()
	defer st.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descRefresh, prometheus.GaugeValue, st.last.Seconds())
	ch <- prometheus.MustNewConstMetric(descRefreshes, prometheus.CounterValue, float64(st.refreshes))
	ch <- prometheus.MustNewConstMetric(descRefreshErrors, prometheus.CounterValue, float64(st.failures))
	ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(st.clients))
}

// pairMetrics exports the running agents' pairs. Names label the series;
// when two registry rows share a name, the first address keeps it (a
// duplicate label set would fail the whole scrape).
func pairMetrics(ch chan<- prometheus.Metric, m *mesh.Mesh) {
	type key struct{ src, dst string }
	seen := map[key]bool{}
	for r, ni := range m.Rows {
		if m.Agents[r].State != mesh.StateRunning {
			continue // a stopped agent's rows are history, not the present
		}
		src := m.Nodes[ni].Name
		for c, nj := range m.Cols {
			k := r*len(m.Cols) + c
			st := m.State[k]
			if st != mesh.CellUp && st != mesh.CellDown {
				continue
			}
			dst := m.Nodes[nj]
			if seen[key{src, dst.Name}] {
				continue
			}
			seen[key{src, dst.Name}] = true
			up := 0.0
			if st == mesh.CellUp {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(descPairUp, prometheus.GaugeValue, up, src, dst.Name, boolText(dst.Stable))
			if rtt := m.RTT[k]; rtt == rtt {
				ch <- prometheus.MustNewConstMetric(descPairRTT, prometheus.GaugeValue, rtt/1000, src, dst.Name)
			}
			if loss := m.Loss[k]; loss == loss {
				ch <- prometheus.MustNewConstMetric(descPairLoss, prometheus.GaugeValue, loss, src, dst.Name)
			}
		}
	}
}
