package web

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/pmonitor/pmonitor/internal/mesh"
)

// Stream limits.
const (
	keepAlive   = 15 * time.Second
	maxClients  = 64
	clientQueue = 8 // frames a slow client may lag behind before it is dropped
)

// hub reads the source once per tick and shares what it read with every
// stream client as prebuilt frames: the cost of a tick does not grow with
// the number of clients.
type hub struct {
	s *Server

	meshMu  sync.Mutex // builds of the live mesh
	meshGen uint64
	meshEnc *encoded

	mu       sync.Mutex
	clients  map[*client]struct{}
	lastMesh []byte // what was last pushed, without its time
	lastSum  []byte
	lastPush time.Time
	summary  []byte // the latest summary frame, for new clients
}

type client struct {
	frames chan []byte
	gone   chan struct{} // closed when the hub drops a slow client
}

func newHub(s *Server) *hub { return &hub{s: s, clients: map[*client]struct{}{}} }

func (h *hub) run(ctx context.Context) error {
	t := time.NewTicker(h.s.cfg.Tick)
	defer t.Stop()
	for {
		if err := h.tick(ctx); err != nil && ctx.Err() == nil {
			h.s.log.Warn("refresh", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// tick refreshes the service and pushes what changed.
func (h *hub) tick(ctx context.Context) error {
	start := time.Now()
	upd, err := h.s.svc.Refresh(ctx)
	h.s.stats.refreshed(time.Since(start), err)
	if err != nil {
		return err
	}
	sum := h.s.svc.Summary()
	sumFrame, sumKey, err := summaryFrame(sum)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.summary = sumFrame
	n := len(h.clients)
	h.mu.Unlock()
	if n == 0 {
		return nil
	}
	var frames [][]byte
	meshEnc, err := h.liveMesh(ctx)
	if err != nil {
		return err
	}
	meshKey := withoutTime(meshEnc.plain)
	h.mu.Lock()
	defer h.mu.Unlock()
	meshChanged := !bytes.Equal(meshKey, h.lastMesh)
	if meshChanged || len(upd.Events) > 0 || !bytes.Equal(sumKey, h.lastSum) {
		frames = append(frames, sumFrame)
	}
	if meshChanged {
		frames = append(frames, frame("mesh", meshEnc.plain))
		h.lastMesh = meshKey
	}
	if len(upd.Events) > 0 {
		e, err := encode(struct {
			Events []mesh.Event `json:"events"`
		}{upd.Events})
		if err != nil {
			return err
		}
		frames = append(frames, frame("events", e.plain))
	}
	h.lastSum = sumKey
	if len(frames) == 0 && time.Since(h.lastPush) >= keepAlive {
		frames = append(frames, []byte(": keep-alive\n\n"))
	}
	if len(frames) > 0 {
		h.lastPush = time.Now()
	}
	for _, f := range frames {
		for c := range h.clients {
			select {
			case c.frames <- f:
			default:
				close(c.gone) // too slow: it reconnects and starts afresh
				delete(h.clients, c)
			}
		}
	}
	return nil
}

// liveMesh returns the mesh of the latest refresh, encoded once per
// refresh however many clients ask.
func (h *hub) liveMesh(ctx context.Context) (*encoded, error) {
	h.meshMu.Lock()
	defer h.meshMu.Unlock()
	gen := h.s.svc.Generation()
	if h.meshEnc != nil && h.meshGen == gen {
		return h.meshEnc, nil
	}
	m, err := h.s.svc.Mesh(ctx, -1, 0)
	if err != nil {
		return nil, err
	}
	e, err := encode(m)
	if err != nil {
		return nil, err
	}
	h.meshEnc, h.meshGen = e, gen
	return e, nil
}

// summaryFrame encodes the stream's summary event, and the same summary
// without its time and generation to tell whether anything changed.
func summaryFrame(sum mesh.Summary) (frameBytes, key []byte, err error) {
	e, err := encode(sum)
	if err != nil {
		return nil, nil, err
	}
	sum.Time, sum.Generation = 0, 0
	k, err := encode(sum)
	if err != nil {
		return nil, nil, err
	}
	return frame("summary", e.plain), k.plain, nil
}

// withoutTime drops the leading "time" member of an encoded mesh.
func withoutTime(b []byte) []byte {
	if i := bytes.IndexByte(b, ','); i > 0 {
		return b[i:]
	}
	return b
}

func frame(event string, data []byte) []byte {
	data = bytes.TrimRight(data, "\n")
	out := make([]byte, 0, len(data)+len(event)+16)
	out = append(out, "event: "...)
	out = append(out, event...)
	out = append(out, "\ndata: "...)
	out = append(out, data...)
	return append(out, "\n\n"...)
}

// serve is /api/v1/stream.
func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	c := &client{frames: make(chan []byte, clientQueue), gone: make(chan struct{})}
	h.mu.Lock()
	if len(h.clients) >= maxClients {
		h.mu.Unlock()
		writeError(w, r, http.StatusServiceUnavailable, errors.New("too many stream clients"))
		return
	}
	h.clients[c] = struct{}{}
	first := h.summary
	h.mu.Unlock()
	h.s.stats.streamClients(1)
	defer func() {
		h.mu.Lock()
		delete(h.clients, c)
		h.mu.Unlock()
		h.s.stats.streamClients(-1)
	}()

	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)
	send := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second)) // the server's write timeout would end the stream
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// A new client starts with the whole picture.
	if !send([]byte("retry: 2000\n\n")) {
		return
	}
	if first != nil && !send(first) {
		return
	}
	if e, err := h.liveMesh(r.Context()); err == nil && !send(frame("mesh", e.plain)) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.gone:
			return
		case f := <-c.frames:
			if !send(f) {
				return
			}
		}
	}
}
