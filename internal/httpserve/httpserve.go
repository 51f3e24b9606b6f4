// Package httpserve runs the small HTTP servers of pmonitor (the agent's
// /metrics and /api/status, the demo's view) with the timeouts every
// exposed server needs, on a mux of the caller's: nothing is registered on
// http.DefaultServeMux.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Start serves h on addr in the background. stop shuts the server down
// (waiting up to two seconds for requests in flight) and returns once it
// has. The listening address is returned, useful when addr has port 0.
func Start(addr string, h http.Handler, log *slog.Logger) (stop func(), bound string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen %s: %w", addr, err)
	}
	return Serve(ln, h, log), ln.Addr().String(), nil
}

// Serve serves h on ln in the background, as Start does, for callers that
// need the bound address before their handler exists.
func Serve(ln net.Listener, h http.Handler, log *slog.Logger) (stop func()) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}
}

// MaxHeaderBytes bounds a request's header: the APIs take short GET requests.
const MaxHeaderBytes = 16 << 10
