package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pmonitor/pmonitor/internal/registry"
	"github.com/pmonitor/pmonitor/internal/resultapi"
	"github.com/pmonitor/pmonitor/internal/store"
)

// pullers bounds the downloads made at once: every one makes its agent
// write a snapshot (VACUUM INTO).
const pullers = 4

// puller keeps copies of the running agents' working databases in a
// private directory, downloaded from the API URLs the registry advertises
// (GET /api/v1/working.db), so that serve needs no shared directory. A copy
// replaces the previous one by rename, which the live source notices (a
// new file) and reopens; an agent that stops keeps its last copy.
type puller struct {
	targets func(ctx context.Context) ([]store.Target, error) // the registry's rows
	dir     string
	token   string
	every   time.Duration
	client  *http.Client
	log     *slog.Logger

	mu     sync.Mutex
	failed map[string]string // address -> last error logged, to log once per change
}

// pullPath is where the copy of the agent at address lives.
func (p *puller) pullPath(address string) string {
	return filepath.Join(p.dir, strings.NewReplacer(":", "_", "/", "_").Replace(address)+".db")
}

// run pulls every p.every until ctx ends.
func (p *puller) run(ctx context.Context) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.pullOnce(ctx)
	}
}

// pullOnce downloads the working database of every running agent that
// advertises a URL and returns how many copies were refreshed.
func (p *puller) pullOnce(ctx context.Context) int {
	rctx, cancel := context.WithTimeout(ctx, p.every+5*time.Second)
	defer cancel()
	ts, err := p.targets(rctx)
	if err != nil {
		p.note("registry", err)
		return 0
	}
	p.note("registry", nil)
	urls := registry.APIURLsOf(ts)
	addrs := make([]string, 0, len(urls))
	for a := range urls {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	var (
		g  errgroup.Group
		mu sync.Mutex
		n  int
	)
	g.SetLimit(pullers)
	for _, a := range addrs {
		g.Go(func() error {
			err := p.pull(rctx, urls[a], p.pullPath(a))
			p.note(a, err)
			if err == nil {
				mu.Lock()
				n++
				mu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	return n
}

// pull downloads one working database next to dest and renames it over
// dest: a reader never sees a partial file.
func (p *puller) pull(ctx context.Context, url, dest string) error {
	part := dest + ".partial"
	if err := os.Remove(part); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if _, err := resultapi.Fetch(ctx, p.client, url, p.token, part); err != nil {
		return err
	}
	if err := os.Rename(part, dest); err != nil {
		os.Remove(part)
		return fmt.Errorf("pull %s: %w", url, err)
	}
	return nil
}

// note logs a failure of what (an address, or "registry") when it differs
// from the last one, and its recovery once.
func (p *puller) note(what string, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	p.mu.Lock()
	last := p.failed[what]
	if msg == "" {
		delete(p.failed, what)
	} else {
		p.failed[what] = msg
	}
	p.mu.Unlock()
	switch {
	case msg != "" && msg != last:
		p.log.Warn("serve: pull working database", "from", what, "err", msg)
	case msg == "" && last != "":
		p.log.Info("serve: pull working database works again", "from", what)
	}
}
