package cli

import (
	"context"
	"fmt"

	"github.com/pmonitor/pmonitor/internal/store"
)

func cmdStop() *command  { return runFlagCommand("stop", false) }
func cmdStart() *command { return runFlagCommand("start", true) }

// runFlagCommand sets the registry's run flag of one agent: stop asks the
// running agent to exit (it notices within a second), start allows it to run.
func runFlagCommand(name string, run bool) *command {
	c := &command{name: name, args: "MASTER_DB ADDRESS"}
	if run {
		c.summary = "allow the agent at ADDRESS to run (run = TRUE)"
		c.help = "Example:\n  pmonitor start master.db 10.0.0.1"
	} else {
		c.summary = "ask the agent at ADDRESS to stop (run = FALSE)"
		c.help = "The agent notices within a second, flushes its results and exits.\n\nExample:\n  pmonitor stop master.db 10.0.0.1"
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		rf := addRegistryFlags(fs)
		pos, err := fs.parse(args, 2, 2)
		if err != nil {
			return err
		}
		reg, err := rf.open(ctx, pos[0])
		if err != nil {
			return err
		}
		defer reg.Close()
		if err := reg.SetRun(ctx, pos[1], run); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: run = %v\n", store.CanonicalAddress(pos[1]), run)
		return nil
	}
	return c
}
