package agent

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the agent's HTTP API on its own mux:
//
//	/healthz     200 "ok" while the agent runs (the body says if the registry is unreachable)
//	/metrics     Prometheus text format, read at scrape time
//	/api/status  the Snapshot as JSON
func (a *Agent) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{a: a})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		a.mu.Lock()
		regErr := a.regErr
		a.mu.Unlock()
		if regErr != "" {
			w.Write([]byte("ok (registry unavailable: " + regErr + ")\n"))
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
