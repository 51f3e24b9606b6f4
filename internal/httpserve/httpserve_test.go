package httpserve

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
)

func TestStartServesAndStops(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	stop, addr, err := Start("127.0.0.1:0", mux, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Errorf("body %q, want ok", body)
	}
	stop()
	if _, err := http.Get("http://" + addr + "/x"); err == nil {
		t.Error("server still answers after stop")
	}
	if _, _, err := Start("127.0.0.1:bad", mux, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("Start on a bad address succeeded")
	}
}
