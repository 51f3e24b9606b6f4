package agent

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the agent's HTTP API on its own mux:
//
//	/healthz     200 "ok" while the agent can do its job (the body says if the
//	             registry became unreachable: it probes the last known targets);
//	             503 with the reason while it cannot: registry never read since
//	             start, working database writes failing, no probe sent for
//	             several intervals
//	/metrics     Prometheus text format, read at scrape time
//	/api/status  the Snapshot as JSON
func (a *Agent) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{a: a})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if p := a.problem(a.cfg.Now()); p != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("unhealthy: " + p + "\n"))
			return
		}
		if e := a.health.registryErr(); e != "" {
			w.Write([]byte("ok (registry unavailable: " + e + ")\n"))
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(a.Snapshot())
	})
	return mux
}
