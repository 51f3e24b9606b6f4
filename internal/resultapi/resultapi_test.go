package resultapi

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

func TestHandlerAndFetch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := store.OpenWorking(ctx, filepath.Join(dir, "work.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.SetMe(ctx, "10.0.0.1", "h1", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	tmpBefore, _ := filepath.Glob(filepath.Join(os.TempDir(), "pmonitor-snapshot-*"))
	srv := httptest.NewServer(Handler(w.Path(), "tok", nil))
	defer srv.Close()

	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "nope", http.StatusUnauthorized},
		{"token", "tok", http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", srv.URL+Path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	dest := filepath.Join(dir, "copy.db")
	if _, err := Fetch(ctx, nil, srv.URL, "wrong", dest); err == nil {
		t.Fatal("Fetch with a wrong token succeeded")
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("failed Fetch left %s behind", dest)
	}
	if _, err := Fetch(ctx, nil, srv.URL+"/", "tok", dest); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dest)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRow(`SELECT name FROM targets WHERE me = TRUE`).Scan(&name); err != nil || name != "h1" {
		t.Errorf("snapshot me row = %q, %v", name, err)
	}
	tmpAfter, _ := filepath.Glob(filepath.Join(os.TempDir(), "pmonitor-snapshot-*"))
	if len(tmpAfter) > len(tmpBefore) {
		t.Errorf("snapshot temporary files left: %v", tmpAfter)
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ text, want, err string }{
		{"abc\n", "abc", ""},
		{"  abc  \nsecond line\n", "abc", ""},
		{"\n", "", "is empty"},
	} {
		p := filepath.Join(dir, "tok")
		os.WriteFile(p, []byte(tc.text), 0o600)
		got, err := ReadToken(p)
		if got != tc.want || (tc.err == "") != (err == nil) {
			t.Errorf("ReadToken(%q) = %q, %v", tc.text, got, err)
		}
	}
	if tok, err := ReadToken(""); tok != "" || err != nil {
		t.Errorf("ReadToken(\"\") = %q, %v", tok, err)
	}
}
