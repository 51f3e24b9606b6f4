package web

import (
	"embed"
	"io/fs"
	"net/http"
)

// static is the page: index.html, its ES modules and styles, and the
// vendored chart library, embedded so that the binary serves it offline.
//
//go:embed static
var static embed.FS

func staticFS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}

// staticHandler serves /static/* from the embedded files.
func staticHandler() http.Handler {
	return http.StripPrefix("/static/", http.FileServerFS(staticFS()))
}

// index serves the page itself.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(staticFS(), "index.html")
	if err != nil {
		http.Error(w, "no page embedded", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}
