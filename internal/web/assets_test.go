package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// TestStaticAssets checks that the page's files go out compressed, with a
// content ETag that turns a reload into 304s, under the same CSP, and that
// the whole page weighs far less on the wire than on disk.
func TestStaticAssets(t *testing.T) {
	srv, _, _ := liveServer(t, "")
	h := srv.Handler()
	files, err := fs.Glob(os.DirFS("static"), "*.*")
	if err != nil {
		t.Fatal(err)
	}
	vendor, _ := fs.Glob(os.DirFS("static"), "vendor/*.*")
	files = append(files, vendor...)
	var plain, wire int
	for _, f := range files {
		disk, err := os.ReadFile("static/" + f)
		if err != nil {
			t.Fatal(err)
		}
		rec := get(h, "GET", "/static/"+f, "Accept-Encoding", "gzip, br")
		if rec.Code != 200 {
			t.Fatalf("GET /static/%s = %d", f, rec.Code)
		}
		hd := rec.Header()
		body := rec.Body.Bytes()
		if hd.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		} else if len(disk) > 2048 {
			t.Errorf("%s (%d bytes) is sent uncompressed", f, len(disk))
		}
		if !bytes.Equal(body, disk) {
			t.Errorf("%s: served content differs from the file", f)
		}
		if !strings.Contains(hd.Get("Content-Security-Policy"), "script-src 'self'") || hd.Get("Cache-Control") != "no-cache" ||
			!strings.Contains(hd.Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s: headers %v", f, hd)
		}
		if strings.HasSuffix(f, ".js") && !strings.HasPrefix(hd.Get("Content-Type"), "text/javascript") {
			t.Errorf("%s: Content-Type %q", f, hd.Get("Content-Type"))
		}
		etag := hd.Get("ETag")
		if len(etag) < 10 || etag[0] != '"' {
			t.Fatalf("%s: ETag %q", f, etag)
		}
		again := get(h, "GET", "/static/"+f, "Accept-Encoding", "gzip", "If-None-Match", `W/"x", `+etag)
		if again.Code != 304 || again.Body.Len() != 0 {
			t.Errorf("%s revalidated with its ETag: %d and %d bytes, want 304 and none", f, again.Code, again.Body.Len())
		}
		plain += len(disk)
		wire += rec.Body.Len()
	}
	t.Logf("page files: %d KB on disk, %d KB gzipped", plain/1024, wire/1024)
	if wire > plain/2 {
		t.Errorf("the page moves %d of its %d bytes: compression is not working", wire, plain)
	}
	// The page itself, and no directory listing or other file.
	if rec := get(h, "GET", "/", "Accept-Encoding", "gzip"); rec.Code != 200 || rec.Header().Get("ETag") == "" {
		t.Errorf("GET / = %d, ETag %q", rec.Code, rec.Header().Get("ETag"))
	}
	for _, p := range []string{"/static/", "/static/vendor/", "/static/nope.js", "/static/vendor/nope"} {
		if rec := get(h, "GET", p); rec.Code != 404 {
			t.Errorf("GET %s = %d, want 404", p, rec.Code)
		}
	}
	if rec := get(h, "GET", "/static/app.js"); rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("app.js compressed for a client that did not ask for it")
	}
}
