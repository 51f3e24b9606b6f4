package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pmonitor/pmonitor/internal/lab"
	"github.com/pmonitor/pmonitor/internal/selftest"
)

func cmdTest() *command {
	c := &command{
		name:    "test",
		summary: "self-test on emulated hosts: agents converge, see a cut host fail, see it come back",
		help: `Runs the original tool's test mode on real emulated hosts (network
namespaces): host1 192.168.33.1, host2 192.168.44.2, host3 192.168.55.2
(stable) and 192.168.55.3 (not stable, same host). Agents ('pmonitor monitor'
processes inside the namespaces) run on 192.168.33.1 and 192.168.55.3. The
test waits for a round (status 3 / 3 for each agent), cuts host2's link
(both agents must report status 2 / 3 and responded = FALSE for host2),
restores it (3 / 3 again), stops the agents through the registry's run flag
and consolidates their databases. Exit 0 when every check passes, 1
otherwise, 2 without root. Nothing is left in the kernel afterwards.

Example:
  sudo pmonitor test --keep ./selftest`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		interval := fs.Duration("interval", time.Second, "agents' probe interval")
		timeout := fs.Duration("timeout", time.Second, "agents' probe timeout")
		keep := fs.String("keep", "", "keep the databases and agent logs in this directory (default: a temporary one, removed)")
		asJSON := fs.Bool("json", false, "print the result as JSON instead of text")
		if _, err := fs.parse(args, 0, 0); err != nil {
			return err
		}
		if *interval <= 0 || *timeout <= 0 {
			return usageErrorf("test: --interval and --timeout must be positive")
		}
		if os.Geteuid() != 0 {
			return setupError(errors.New("test: network namespaces need root: run 'sudo pmonitor test'"))
		}
		dir := *keep
		if _, err := os.Stat(filepath.Join(dir, lab.MasterFile)); dir != "" && err == nil {
			return usageErrorf("test: --keep %s already holds a run (%s): choose a new directory", dir, lab.MasterFile)
		}
		if dir == "" {
			tmp, err := os.MkdirTemp("", "pmonitor-test-")
			if err != nil {
				return setupError(fmt.Errorf("test: %w", err))
			}
			defer os.RemoveAll(tmp)
			dir = tmp
		}
		out := e.stdout
		if *asJSON {
			out = io.Discard
		}
		res, err := selftest.Run(ctx, selftest.Config{Dir: dir, Keep: *keep != "", Interval: *interval, Timeout: *timeout, Out: out, Logger: e.log})
		if *asJSON {
			if jerr := writeJSON(e.stdout, res); jerr != nil {
				return jerr
			}
		} else if res.OK {
			fmt.Fprintf(out, "PASS: all %d checks passed\n", len(res.Checks))
		}
		switch {
		case err != nil:
			return fmt.Errorf("test: %w", err)
		case !res.OK:
			fmt.Fprintf(out, "FAIL: %d of %d checks failed\n", res.Failed(), len(res.Checks))
			return &exitError{code: exitFailure, silent: true}
		}
		return nil
	}
	return c
}
