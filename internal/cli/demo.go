package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pmonitor/pmonitor/internal/demo"
)

func cmdDemo() *command {
	c := &command{
		name:    "demo",
		summary: "watch a ping mesh live: emulated satellites and ground stations whose links come and go",
		help: `Builds an emulated network (one network namespace per node) of stable
satellites sat1..satN and dynamic ground stations gs1..gsN, runs a real
agent ('pmonitor monitor') on every node, and cuts and restores the ground
stations' uplinks on a random schedule (up 15-40 s, down 8-20 s; --seed
replays one). The view refreshes every second: pairs answering, per node its
link, how many agents see it answering and its own agent's status, and the
latest up/down events. On a terminal it is full screen; otherwise one line
per second is printed.

On exit (--for elapsed, Ctrl-C) the agents are stopped through the
registry's run flag and everything is consolidated into an analysis
database in a timestamped run folder (--dir/YYYYMMDD-HHMMSS/analysis.db,
with master.db, the working databases and the agent logs beside it); a
summary with the fault detection latency follows. Nothing is left in the
kernel. Needs root.

The web dashboard (as 'pmonitor serve' shows it) is served on the --listen
loopback address, printed at start; beside it /api/status (the demo's JSON)
and /metrics (pair metrics and the demo's). --listen '' turns it off.

Example:
  sudo pmonitor demo --for 60s --listen 127.0.0.1:9300`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		cfg := demo.Config{}
		fs.IntVar(&cfg.Nodes, "nodes", 12, fmt.Sprintf("number of nodes, 2 to %d", demo.MaxNodes))
		fs.IntVar(&cfg.Dynamic, "dynamic", 4, "how many of them are dynamic (ground stations)")
		fs.DurationVar(&cfg.Interval, "interval", 2*time.Second, "agents' probe interval")
		fs.DurationVar(&cfg.Timeout, "timeout", time.Second, "agents' probe timeout")
		fs.DurationVar(&cfg.For, "for", 0, "run this long, then stop (default: until Ctrl-C)")
		fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:9300", "serve the dashboard, /api/status and /metrics on this loopback address ('' for none)")
		fs.StringVar(&cfg.Dir, "dir", "runs", "where the timestamped run folder goes")
		fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the fault schedule (default: a random one, printed)")
		if _, err := fs.parse(args, 0, 0); err != nil {
			return err
		}
		if os.Geteuid() != 0 {
			return setupError(errors.New("demo: network namespaces need root: run 'sudo pmonitor demo'"))
		}
		cfg.TTY = isTerminal(e.stdout)
		cfg.Logger = e.log
		sum, err := demo.Run(ctx, cfg, e.stdout)
		if sum.RunDir != "" {
			fmt.Fprintf(e.stdout, "\n%s\n", sum.Text())
		}
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		return nil
	}
	return c
}

// isTerminal reports whether w is a terminal (the full-screen view) rather
// than a pipe or a file (one line per second).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
