package demo

import (
	"context"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pmonitor/pmonitor/internal/mesh"
	"github.com/pmonitor/pmonitor/internal/web"
)

// dashboard serves the web dashboard ('pmonitor serve' on the run folder:
// the registry and every working database in it) with the demo's own
// /api/status and metrics beside it. stop is idempotent.
func (d *demo) dashboard(ctx context.Context) (stop func(), url string, err error) {
	live, err := mesh.OpenLive(d.lab.Master(), nil, d.runDir)
	if err != nil {
		return nil, "", err
	}
	svc := mesh.NewLive(live, mesh.Options{Logger: d.cfg.Logger})
	srv := web.New(web.Config{Service: svc, Logger: d.cfg.Logger,
		Collectors: []prometheus.Collector{&collector{latest: d.snapshotLatest}}})
	stopHTTP, bound, err := serve(d.cfg.Listen, handler(d.snapshotLatest, srv.Handler()), d.cfg.Logger)
	if err != nil {
		svc.Close()
		return nil, "", err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Run(rctx)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			stopHTTP()
			cancel()
			<-done
			svc.Close()
		})
	}, fmt.Sprintf("http://%s/", bound), nil
}
