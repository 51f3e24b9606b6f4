package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/pmonitor/pmonitor/internal/emu"
)

func cmdEmulate() *command {
	c := &command{
		name:    "emulate",
		args:    "--cleanup",
		summary: "remove leftovers of crashed emulated networks (--cleanup)",
		help: `Emulated networks (pmonitor test, pmonitor demo, the end-to-end tests) are
network namespaces named PREFIX-HOST joined by veths to a bridge PREFIX-br
in a namespace of its own, PREFIX--sw. A run that ends normally removes
them; one that crashed leaves them behind. --cleanup removes the namespaces
(and with them the bridges and veths), and the bridges and veths older
versions left in the root namespace, whose names start with --prefix, that
carry pmonitor's marker and whose run's process is gone;
objects of live runs and of other software are never touched. Needs root.

Example:
  sudo pmonitor emulate --cleanup`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		cleanup := fs.Bool("cleanup", false, "remove leftovers of crashed runs")
		prefix := fs.String("prefix", emu.DefaultPrefix, "consider only names starting with this run prefix")
		asJSON := fs.Bool("json", false, "print what was removed as JSON")
		if _, err := fs.parse(args, 0, 0); err != nil {
			return err
		}
		if !*cleanup {
			return usageErrorf("emulate: nothing to do: only --cleanup is implemented (see 'pmonitor emulate --help')")
		}
		if err := emu.CheckPrefix(*prefix); err != nil {
			return usageErrorf("emulate: --prefix: %v", err)
		}
		if os.Geteuid() != 0 {
			return setupError(errors.New("emulate needs root (network namespaces)"))
		}
		removed, err := emu.Cleanup(ctx, *prefix, e.log)
		if *asJSON {
			if removed == nil {
				removed = []string{}
			}
			if jerr := writeJSON(e.stdout, map[string]any{"prefix": *prefix, "removed": removed}); jerr != nil {
				return jerr
			}
		} else {
			for _, r := range removed {
				fmt.Fprintf(e.stdout, "removed %s\n", r)
			}
			if len(removed) == 0 && err == nil {
				fmt.Fprintln(e.stdout, "nothing to clean up")
			}
		}
		if err != nil {
			return fmt.Errorf("emulate: cleanup: %w", err)
		}
		return nil
	}
	return c
}
