package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pmonitor/pmonitor/internal/registry"
	"github.com/pmonitor/pmonitor/internal/resultapi"
)

// consolidateInputs turns consolidate's arguments into files: an etcd
// registry is copied into a SQLite file, and with fromRegistry every running
// agent's working database that the registry advertises is downloaded. All
// of it goes to a private temporary directory that cleanup removes.
func consolidateInputs(ctx context.Context, e *env, rf *registryFlags, master string, working []string,
	fromRegistry bool, tokenFile string) (masterPath string, paths []string, cleanup func(), err error) {
	cleanup = func() {}
	if !registry.IsEtcd(master) && !fromRegistry {
		return master, working, cleanup, nil
	}
	token, err := resultapi.ReadToken(tokenFile)
	if err != nil {
		return "", nil, cleanup, err
	}
	dir, err := os.MkdirTemp("", "pmonitor-consolidate-*") // mode 0700
	if err != nil {
		return "", nil, cleanup, fmt.Errorf("consolidate: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	reg, err := rf.open(ctx, master)
	if err != nil {
		return "", nil, cleanup, fmt.Errorf("consolidate: %w", err)
	}
	defer reg.Close()
	masterPath = master
	if registry.IsEtcd(master) {
		masterPath = filepath.Join(dir, "registry.db")
		if err := registry.WriteSQLite(ctx, reg, masterPath); err != nil {
			return "", nil, cleanup, fmt.Errorf("consolidate: %w", err)
		}
	}
	paths = append(paths, working...)
	if !fromRegistry {
		return masterPath, paths, cleanup, nil
	}
	urls, err := registry.APIURLs(ctx, reg)
	if err != nil {
		return "", nil, cleanup, fmt.Errorf("consolidate: %w", err)
	}
	if len(urls) == 0 {
		fmt.Fprintf(e.stderr, "pmonitor: consolidate: no running agent advertises an API URL (monitor --listen)\n")
	}
	addrs := make([]string, 0, len(urls))
	for a := range urls {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	hc := &http.Client{Timeout: 5 * time.Minute}
	for _, a := range addrs {
		dest := filepath.Join(dir, strings.NewReplacer(":", "_", "/", "_").Replace(a)+".db")
		if _, err := resultapi.Fetch(ctx, hc, urls[a], token, dest); err != nil {
			fmt.Fprintf(e.stderr, "pmonitor: consolidate: agent %s: %s\n", a, err)
		}
		paths = append(paths, dest) // a failed download is reported as skipped
	}
	return masterPath, paths, cleanup, nil
}
