package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// static is the page: index.html, its ES modules and styles, and the
// vendored chart library, embedded so that the binary serves it offline.
//
//go:embed static
var static embed.FS

// asset is one embedded file, ready to send: its gzip form made once at
// start (the page's first load moves a third of its size), and a strong
// ETag from its content, so a reload revalidates with a 304 instead of
// moving it again.
type asset struct {
	body  []byte
	gz    []byte // nil when compressing does not pay
	etag  string
	ctype string
}

// assets are the embedded files by their path under static/.
type assets map[string]*asset

// loadAssets reads and compresses every embedded file.
func loadAssets() (assets, error) {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, fmt.Errorf("embedded page: %w", err)
	}
	out := assets{}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		a := &asset{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: mime.TypeByExtension(path.Ext(p))}
		if a.ctype == "" {
			a.ctype = http.DetectContentType(b)
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // once at start: ratio over speed
		zw.Write(b)
		zw.Close()
		if buf.Len() < len(b)*9/10 {
			a.gz = buf.Bytes()
		}
		out[p] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded page: %w", err)
	}
	if out["index.html"] == nil {
		return nil, fmt.Errorf("embedded page: no index.html")
	}
	return out, nil
}

// serve sends the file at p (a path under static/), 404 if there is none.
// The page's URLs carry no version, so browsers revalidate every file
// (no-cache) and get a 304 while its ETag holds.
func (as assets) serve(w http.ResponseWriter, r *http.Request, p string) {
	a := as[p]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	h.Add("Vary", "Accept-Encoding")
	if etagMatch(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && acceptsGzip(r) {
		body = a.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// etagMatch reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for it).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// staticFiles serves /static/*.
func (s *Server) staticFiles(w http.ResponseWriter, r *http.Request) {
	s.assets.serve(w, r, strings.TrimPrefix(r.URL.Path, "/static/"))
}

// index serves the page itself.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	s.assets.serve(w, r, "index.html")
}
