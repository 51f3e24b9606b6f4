package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
)

// gzipMin is the smallest body worth compressing.
const gzipMin = 1024

var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a mesh a second: speed over ratio
	return w
}}

// encoded is a JSON body, with its gzip form made once when first asked
// for (a cached mesh is served to every client from the same bytes).
type encoded struct {
	plain []byte
	once  sync.Once
	gz    []byte
}

func encode(v any) (*encoded, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &encoded{plain: append(b, '\n')}, nil
}

func (e *encoded) gzipped() []byte {
	e.once.Do(func() {
		var buf bytes.Buffer
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(&buf)
		zw.Write(e.plain)
		zw.Close()
		gzipPool.Put(zw)
		e.gz = buf.Bytes()
	})
	return e.gz
}

// write sends e with status, compressed when the client accepts gzip.
func (e *encoded) write(w http.ResponseWriter, r *http.Request, status int) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept-Encoding")
	body := e.plain
	if len(body) >= gzipMin && acceptsGzip(r) {
		body = e.gzipped()
		h.Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(status)
	w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

// writeJSON encodes v and sends it with status 200.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	e, err := encode(v)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, errors.New("encode response"))
		return
	}
	e.write(w, r, http.StatusOK)
}

// apiError is the body of every error: {"error":"message"}.
type apiError struct {
	Error string `json:"error"`
}

// writeError sends {"error": message} with status; never a stack trace.
func writeError(w http.ResponseWriter, r *http.Request, status int, err error) {
	e, _ := encode(apiError{Error: err.Error()})
	e.write(w, r, status)
}
