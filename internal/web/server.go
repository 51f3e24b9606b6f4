// Package web is the HTTP side of 'pmonitor serve' and of the demo's
// dashboard: the embedded page, the versioned JSON API (README.md), the
// Server-Sent Events stream, Prometheus metrics and service discovery.
// It reads through internal/mesh and never opens a file a request names.
package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pmonitor/pmonitor/internal/mesh"
)

// Config describes a dashboard server. Service is required.
type Config struct {
	Service *mesh.Service
	// ControlToken enables the stop/start endpoints for requests that
	// carry it as a bearer token; "" keeps the server read-only.
	ControlToken string
	Tick         time.Duration // how often the source is read and the stream pushed; default 1s
	Logger       *slog.Logger
	// Collectors are exported on /metrics beside the pair metrics (the
	// demo adds its own).
	Collectors []prometheus.Collector
}

// Server is the dashboard: create it with New, serve Handler, and run Run
// for the ticks that refresh the data and feed the stream.
type Server struct {
	cfg    Config
	svc    *mesh.Service
	log    *slog.Logger
	hub    *hub
	stats  *serveStats
	token  [32]byte // sha256 of the control token
	mux    *http.ServeMux
	assets assets
}

// New returns a server for cfg.
func New(cfg Config) *Server {
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, svc: cfg.Service, log: cfg.Logger, stats: &serveStats{}}
	as, err := loadAssets()
	if err != nil { // only a broken build gets here: the API still serves
		s.log.Error("serve: no page", "err", err)
		as = assets{}
	}
	s.assets = as
	if cfg.ControlToken != "" {
		s.token = sha256.Sum256([]byte(cfg.ControlToken))
	}
	s.hub = newHub(s)
	s.routes()
	return s
}

func (s *Server) routes() {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{s: s})
	reg.MustRegister(s.cfg.Collectors...)
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.index)
	m.HandleFunc("GET /static/", s.staticFiles)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	m.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	m.HandleFunc("GET /api/v1/summary", s.summary)
	m.HandleFunc("GET /api/v1/mesh", s.mesh)
	m.HandleFunc("GET /api/v1/events", s.events)
	m.HandleFunc("GET /api/v1/nodes/{name}", s.node)
	m.HandleFunc("GET /api/v1/pairs/{source}/{target}", s.pair)
	m.HandleFunc("GET /api/v1/agents", s.agents)
	m.HandleFunc("POST /api/v1/agents/{address}/{action}", s.control)
	m.HandleFunc("GET /api/v1/stream", s.hub.serve)
	m.HandleFunc("GET /api/v1/sd", s.sd)
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, errNoSuchEndpoint(r))
	})
	s.mux = m
}

// Handler returns the server's handler, with the security headers every
// answer carries.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		s.mux.ServeHTTP(w, r)
	})
}

// csp allows the page's own ES modules, styles and fetches only: no inline
// script, no eval, nothing from elsewhere (it works offline). Canvas
// exports use blob: and data: URLs.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Run refreshes the data every tick and pushes it to the stream's clients
// until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	return s.hub.run(ctx)
}

// Refresh reads the source once and pushes the result, as a tick does
// (tests drive the server with it).
func (s *Server) Refresh(ctx context.Context) error {
	return s.hub.tick(ctx)
}

// authorized reports whether r carries the control token.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.ControlToken == "" {
		return false
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	// Comparing digests keeps the time independent of the token's length too.
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], s.token[:]) == 1
}
