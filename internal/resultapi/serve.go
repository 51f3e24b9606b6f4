// Package resultapi moves results between machines without a shared
// directory: an agent serves a consistent snapshot of its working database
// at GET /api/v1/working.db, and Fetch downloads it (consolidate and serve
// with --from-registry find the agents' URLs in the registry).
package resultapi

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" driver
)

// Path is where an agent serves its working database.
const Path = "/api/v1/working.db"

// Handler serves GET Path: a snapshot of the SQLite database at dbPath made
// with VACUUM INTO (one read transaction, so consistent while the agent
// writes), streamed from a temporary file that is removed afterwards. With
// a non-empty token the request must carry "Authorization: Bearer TOKEN".
// The path is fixed by the agent, never taken from the request.
func Handler(dbPath, token string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !Authorized(r, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pmonitor"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		f, size, err := snapshot(r.Context(), dbPath)
		if err != nil {
			log.Warn("working db snapshot", "err", err)
			http.Error(w, "snapshot failed", http.StatusInternalServerError)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/vnd.sqlite3")
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.Header().Set("Content-Disposition", `attachment; filename="`+filepath.Base(dbPath)+`"`)
		w.Header().Set("Cache-Control", "no-store")
		if r.Method == http.MethodHead {
			return
		}
		io.Copy(w, f)
	})
}

// Authorized reports whether r carries the bearer token (always true when
// token is empty). The comparison takes constant time.
func Authorized(r *http.Request, token string) bool {
	if token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// snapshot writes a copy of the database with VACUUM INTO into a temporary
// file and returns it open; the file is already unlinked, so it disappears
// when closed whatever happens to the request.
func snapshot(ctx context.Context, dbPath string) (*os.File, int64, error) {
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		return nil, 0, err
	}
	dir, err := os.MkdirTemp("", "pmonitor-snapshot-*")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "working.db")
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&_busy_timeout=15000"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, 0, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return nil, 0, fmt.Errorf("vacuum into: %w", err)
	}
	f, err := os.Open(tmp)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// ReadToken reads a bearer token file (first line, spaces trimmed); an
// empty path is no token.
func ReadToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("api token: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	tok := strings.TrimSpace(line)
	if tok == "" {
		return "", fmt.Errorf("api token: %s is empty", path)
	}
	return tok, nil
}
