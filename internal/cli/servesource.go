package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/pmonitor/pmonitor/internal/mesh"
	"github.com/pmonitor/pmonitor/internal/registry"
	"github.com/pmonitor/pmonitor/internal/resultapi"
	"github.com/pmonitor/pmonitor/internal/store"
)

// sourceFlags are serve's choices of where the data comes from.
type sourceFlags struct {
	rf           *registryFlags
	fromRegistry *bool
	apiTokenFile *string
	pullEvery    *time.Duration
	dir          *string
	log          *slog.Logger
}

// open picks live or replay from the arguments and returns the service,
// a description for the start-up line, and what closes it all.
func (f sourceFlags) open(ctx context.Context, pos []string) (*mesh.Service, string, func(), error) {
	first, dir := pos[0], *f.dir
	if !registry.IsEtcd(first) && !*f.fromRegistry {
		svc, what, err := openFileSource(ctx, pos, dir)
		if err != nil {
			return nil, "", nil, err
		}
		return svc, what, func() { svc.Close() }, nil
	}
	if *f.fromRegistry && dir != "" {
		return nil, "", nil, usageErrorf("serve: --from-registry downloads the working databases: no --dir")
	}
	if !*f.fromRegistry && len(pos) == 1 && dir == "" {
		return nil, "", nil, usageErrorf("serve: give working databases after %s, --dir DIR or --from-registry", first)
	}
	if *f.fromRegistry && *f.pullEvery < time.Second {
		return nil, "", nil, usageErrorf("serve: --pull-interval must be at least 1s")
	}
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, "", nil, setupError(fmt.Errorf("serve: --dir %s: not a directory", dir))
		}
	}
	if !registry.IsEtcd(first) {
		if err := notAnalysis(ctx, first); err != nil {
			return nil, "", nil, err
		}
	}
	return f.openRegistrySource(ctx, pos)
}

// openRegistrySource serves an etcd registry (read through store.Registry)
// or, with --from-registry, working databases downloaded from the agents.
func (f sourceFlags) openRegistrySource(ctx context.Context, pos []string) (*mesh.Service, string, func(), error) {
	first, dir := pos[0], *f.dir
	var (
		reg     store.Registry
		targets func(context.Context) ([]store.Target, error)
	)
	if registry.IsEtcd(first) {
		r, err := f.rf.open(ctx, first)
		if err != nil {
			return nil, "", nil, setupError(fmt.Errorf("serve: %w", err))
		}
		reg, targets = r, r.Targets
	} else {
		// A SQLite registry stays read-only, as without --from-registry.
		targets = func(ctx context.Context) ([]store.Target, error) { return store.ReadRegistry(ctx, first) }
	}
	closers := []func(){}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if reg != nil {
		closers = append(closers, func() { reg.Close() })
	}
	what := fmt.Sprintf("live, registry %s, %d working databases", first, len(pos)-1)
	if dir != "" {
		what = fmt.Sprintf("live, registry %s, working databases in %s", first, dir)
	}
	var p *puller
	if *f.fromRegistry {
		token, err := resultapi.ReadToken(*f.apiTokenFile)
		if err != nil {
			closeAll()
			return nil, "", nil, setupError(fmt.Errorf("serve: %w", err))
		}
		if dir, err = os.MkdirTemp("", "pmonitor-serve-*"); err != nil { // mode 0700
			closeAll()
			return nil, "", nil, setupError(fmt.Errorf("serve: %w", err))
		}
		closers = append(closers, func() { os.RemoveAll(dir) })
		p = &puller{targets: targets, dir: dir, token: token, every: *f.pullEvery,
			client: &http.Client{Timeout: time.Minute}, log: f.log, failed: map[string]string{}}
		n := p.pullOnce(ctx) // the first copies before the first page
		what = fmt.Sprintf("live, registry %s, working databases pulled from %d agents every %v", first, n, *f.pullEvery)
	}
	var (
		l   *mesh.Live
		err error
	)
	if reg != nil {
		l, err = mesh.OpenLiveRegistry(reg, pos[1:], dir)
	} else {
		l, err = mesh.OpenLive(first, pos[1:], dir)
	}
	if err != nil {
		closeAll()
		return nil, "", nil, setupError(fmt.Errorf("serve: %w", err))
	}
	svc := mesh.NewLive(l, mesh.Options{})
	closers = append(closers, func() { svc.Close() })
	if p != nil {
		pctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { p.run(pctx) })
		closers = append(closers, func() { cancel(); wg.Wait() })
	}
	return svc, what, closeAll, nil
}

// notAnalysis checks that a SQLite MASTER_DB exists and is a registry.
func notAnalysis(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return setupError(fmt.Errorf("serve: %s: %w", path, err))
	}
	analysis, err := mesh.IsAnalysis(ctx, path)
	if err != nil {
		return setupError(fmt.Errorf("serve: %w", err))
	}
	if analysis {
		return usageErrorf("serve: %s is an analysis database: give it alone, without --from-registry", path)
	}
	return nil
}

// openFileSource picks live or replay from SQLite files.
func openFileSource(ctx context.Context, pos []string, dir string) (*mesh.Service, string, error) {
	first := pos[0]
	if _, err := os.Stat(first); err != nil {
		return nil, "", setupError(fmt.Errorf("serve: %s: %w", first, err))
	}
	analysis, err := mesh.IsAnalysis(ctx, first)
	if err != nil {
		return nil, "", setupError(fmt.Errorf("serve: %w", err))
	}
	if analysis {
		if len(pos) > 1 || dir != "" {
			return nil, "", usageErrorf("serve: %s is an analysis database: give it alone", first)
		}
		r, err := mesh.OpenReplay(ctx, first)
		if err != nil {
			return nil, "", setupError(fmt.Errorf("serve: %w", err))
		}
		return mesh.NewReplay(r, mesh.Options{}), "replaying " + first, nil
	}
	if len(pos) == 1 && dir == "" {
		return nil, "", usageErrorf("serve: give working databases after %s, --dir DIR or --from-registry", first)
	}
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, "", setupError(fmt.Errorf("serve: --dir %s: not a directory", dir))
		}
	}
	l, err := mesh.OpenLive(first, pos[1:], dir)
	if err != nil {
		return nil, "", setupError(fmt.Errorf("serve: %w", err))
	}
	what := fmt.Sprintf("live, registry %s, %d working databases", first, len(pos)-1)
	if dir != "" {
		what = fmt.Sprintf("live, registry %s, working databases in %s", first, dir)
	}
	return mesh.NewLive(l, mesh.Options{}), what, nil
}
