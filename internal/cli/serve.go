package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/pmonitor/pmonitor/internal/httpserve"
	"github.com/pmonitor/pmonitor/internal/mesh"
	"github.com/pmonitor/pmonitor/internal/web"
)

func cmdServe() *command {
	c := &command{
		name:    "serve",
		args:    "MASTER_DB [WORKING_DB...] | MASTER_DB --dir DIR | MASTER_DB --from-registry | ANALYSIS_DB",
		summary: "serve the web dashboard and its JSON API, live or replaying an analysis database",
		help: `Live: reads the registry and the working databases (listed, or every *.db in
--dir, including files that appear later) once a second and serves the
dashboard, the JSON API (/api/v1/...), a Server-Sent Events stream,
Prometheus metrics (/metrics) and service discovery (/api/v1/sd). Working
databases are matched to nodes by their me row; one that is missing,
corrupt or locked shows as unavailable while the rest is served.

MASTER_DB may be an etcd registry (etcd://host:port[,...]/PREFIX, with the
--etcd-* flags). With --from-registry serve needs no shared directory: it
finds the running agents through the registry (their monitor --listen URL)
and downloads their working databases (GET /api/v1/working.db, with the
bearer token of --api-token-file) into a private temporary directory every
--pull-interval, and serves those copies.

Replay: given one analysis database (pmonitor consolidate, or a demo run's
analysis.db), serves the same dashboard over the recorded history.

Every database is opened read-only. Only with --control-token-file do the
dashboard's stop/start buttons work, for requests carrying that token
(Authorization: Bearer TOKEN; open the page as URL#token=TOKEN); they set
the registry's run flag, as 'pmonitor stop' does.

Examples:
  pmonitor serve master.db work-*.db
  pmonitor serve master.db --dir /var/lib/pmonitor --listen 127.0.0.1:9300
  pmonitor serve etcd://10.0.0.1:2379,10.0.0.2:2379/mesh --from-registry --api-token-file api.token
  pmonitor serve runs/20261128-101500/analysis.db`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		listen := fs.String("listen", "127.0.0.1:9300", "address to serve on")
		dir := fs.String("dir", "", "serve every working database (*.db) in this directory, including new ones")
		tokenFile := fs.String("control-token-file", "", "enable stop/start for requests carrying the token in this file")
		tick := fs.Duration("tick", time.Second, "how often the databases are read and the stream pushed")
		logLevel := fs.String("log-level", "info", "debug, info, warn or error")
		logFormat := fs.String("log-format", "text", "text or json")
		src := sourceFlags{
			rf:           addRegistryFlags(fs),
			fromRegistry: fs.Bool("from-registry", false, "download the running agents' working databases from the API URLs in the registry"),
			apiTokenFile: fs.String("api-token-file", "", "--from-registry: bearer token the agents' APIs require, in this file"),
			pullEvery:    fs.Duration("pull-interval", 5*time.Second, "--from-registry: how often the working databases are downloaded again"),
			dir:          dir,
		}
		pos, err := fs.parse(args, 1, -1)
		if err != nil {
			return err
		}
		if *tick < 100*time.Millisecond {
			return usageErrorf("serve: --tick must be at least 100ms")
		}
		log, err := newLogger(e, *logLevel, *logFormat)
		if err != nil {
			return err
		}
		token, err := readToken(*tokenFile)
		if err != nil {
			return setupError(fmt.Errorf("serve: %w", err))
		}
		src.log = log
		svc, what, closeSrc, err := src.open(ctx, pos)
		if err != nil {
			return err
		}
		defer closeSrc()
		if token != "" && svc.Mode() == mesh.ModeReplay {
			return usageErrorf("serve: --control-token-file makes no sense with an analysis database (nothing runs)")
		}
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return setupError(fmt.Errorf("serve: listen %s: %w", *listen, err))
		}
		srv := web.New(web.Config{Service: svc, ControlToken: token, Tick: *tick, Logger: log})
		stop := httpserve.Serve(ln, srv.Handler(), log)
		defer stop()
		access := "read-only"
		if token != "" {
			access = "stop/start with the control token"
		}
		fmt.Fprintf(e.stdout, "pmonitor serve: %s on http://%s/ (%s)\n", what, ln.Addr(), access)
		if token == "" && !isLoopback(ln.Addr().String()) {
			log.Warn("serve: listening beyond loopback without --control-token-file: the dashboard is read-only", "addr", ln.Addr().String())
		}
		return srv.Run(ctx)
	}
	return c
}

// readToken reads the control token ("" without a file).
func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("control token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	switch {
	case tok == "":
		return "", errors.New("control token: " + path + " is empty")
	case len(tok) < 16:
		return "", errors.New("control token: want at least 16 characters in " + path)
	case strings.ContainsAny(tok, " \t\r\n"):
		return "", errors.New("control token: " + path + " holds more than one word")
	}
	return tok, nil
}

// isLoopback reports whether the bound address is a loopback one.
func isLoopback(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
