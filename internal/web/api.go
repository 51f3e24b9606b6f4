package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/pmonitor/pmonitor/internal/mesh"
)

func errNoSuchEndpoint(r *http.Request) error {
	return fmt.Errorf("no such endpoint: %s %s", r.Method, r.URL.Path)
}

// summaryBody is /api/v1/summary: the summary, its series and the latest events.
type summaryBody struct {
	mesh.Summary
	Series *mesh.Series `json:"series"`
	Events []mesh.Event `json:"events"`
}

// SummaryEvents is how many events /api/v1/summary carries.
const SummaryEvents = 10

func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	ser, err := s.svc.Series(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	evs, err := s.svc.Events(r.Context(), mesh.EventFilter{Limit: SummaryEvents}, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, r, summaryBody{Summary: s.svc.Summary(), Series: ser, Events: evs})
}

// maxWindow bounds the mesh's loss window.
const maxWindow = 86400.0

func (s *Server) mesh(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	at, err := timeParam(q, "at", -1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	window, err := secondsParam(q, "window", 0, maxWindow)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if at < 0 && window == 0 {
		e, err := s.hub.liveMesh(r.Context()) // the tick's mesh, encoded once for everyone
		if err != nil {
			s.fail(w, r, err)
			return
		}
		e.write(w, r, http.StatusOK)
		return
	}
	m, err := s.svc.Mesh(r.Context(), at, window)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, r, m)
}

// Event limits.
const (
	DefaultEvents = 200
	MaxEvents     = 5000
)

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, kind, err := eventFilter(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if f.Node != "" {
		if _, ok := s.svc.Snapshot().NodeIndex(f.Node); !ok {
			s.fail(w, r, fmt.Errorf("node %q: %w", f.Node, mesh.ErrNotFound))
			return
		}
	}
	evs, err := s.svc.Events(r.Context(), f, kind)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, r, struct {
		Events []mesh.Event `json:"events"`
	}{evs})
}

func eventFilter(q url.Values) (mesh.EventFilter, string, error) {
	var f mesh.EventFilter
	var err error
	if f.Since, err = timeParam(q, "since", 0); err != nil {
		return f, "", err
	}
	if f.Until, err = timeParam(q, "until", 0); err != nil {
		return f, "", err
	}
	if f.Limit, err = intParam(q, "limit", DefaultEvents, 1, MaxEvents); err != nil {
		return f, "", err
	}
	f.Node = q.Get("node")
	kind := q.Get("kind")
	if kind != "" && kind != "stable" && kind != "dynamic" {
		return f, "", &badParam{"kind", fmt.Sprintf("%q is neither stable nor dynamic", kind)}
	}
	return f, kind, nil
}

func (s *Server) node(w http.ResponseWriter, r *http.Request) {
	d, err := s.svc.Node(r.Context(), r.PathValue("name"))
	if errors.Is(err, mesh.ErrNotFound) {
		err = fmt.Errorf("node %q: %w", r.PathValue("name"), err)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, r, d)
}

func (s *Server) pair(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err := timeParam(q, "from", 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	to, err := timeParam(q, "to", 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if from > 0 && to > 0 && from >= to {
		s.fail(w, r, &badParam{"from", "must be before to"})
		return
	}
	buckets, err := intParam(q, "buckets", mesh.DefaultBuckets, 1, mesh.MaxBuckets)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.svc.Pair(r.Context(), r.PathValue("source"), r.PathValue("target"), from, to, buckets)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, r, p)
}

// agentsBody is /api/v1/agents.
type agentsBody struct {
	Control bool             `json:"control"`
	Mode    string           `json:"mode"`
	Agents  []mesh.AgentInfo `json:"agents"`
	Lost    []mesh.Lost      `json:"lost"`
}

func (s *Server) agents(w http.ResponseWriter, r *http.Request) {
	lost := s.svc.Snapshot().Lost
	if lost == nil {
		lost = []mesh.Lost{}
	}
	writeJSON(w, r, agentsBody{Control: s.authorized(r) && s.svc.Mode() == mesh.ModeLive, Mode: s.svc.Mode(),
		Agents: s.svc.Agents(), Lost: lost})
}

// maxBody bounds a request body: control requests carry none.
const maxBody = 1 << 10

func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if s.cfg.ControlToken == "" {
		writeError(w, r, http.StatusNotFound, errors.New("read-only: serve runs without --control-token-file"))
		return
	}
	if !s.authorized(r) {
		writeError(w, r, http.StatusForbidden, errors.New("missing or wrong bearer token"))
		return
	}
	var run bool
	switch r.PathValue("action") {
	case "stop":
	case "start":
		run = true
	default:
		writeError(w, r, http.StatusNotFound, errNoSuchEndpoint(r))
		return
	}
	addr := r.PathValue("address")
	if err := s.svc.SetRun(r.Context(), addr, run); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("control: run flag set", "address", addr, "run", run, "remote", r.RemoteAddr)
	writeJSON(w, r, struct {
		OK bool `json:"ok"`
	}{true})
}

// fail answers err: 400 for a bad parameter, 404 for an unknown node or
// pair, 409 for a control request to a replay, 500 otherwise (logged,
// never a stack trace).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errBadParam):
		writeError(w, r, http.StatusBadRequest, err)
	case errors.Is(err, mesh.ErrNotFound):
		writeError(w, r, http.StatusNotFound, err)
	case errors.Is(err, mesh.ErrReadOnly):
		writeError(w, r, http.StatusConflict, errors.New("a replayed analysis database cannot be controlled"))
	case r.Context().Err() != nil:
		// the client left
	default:
		s.log.Warn("api", "path", r.URL.Path, "err", err)
		writeError(w, r, http.StatusInternalServerError, errors.New("internal error (see serve's log)"))
	}
}
