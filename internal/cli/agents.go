package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

func cmdAgents() *command {
	c := &command{
		name:    "agents",
		args:    "MASTER_DB",
		summary: "show every registry row with its run and running flags and last heartbeat",
		help: `A running agent refreshes its registry heartbeat every 30 seconds (its working
database's me row at every write, at least every 30 s); a running flag with a
heartbeat older than a minute means the agent died without cleaning up.

Example:
  pmonitor agents master.db --json`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		asJSON := fs.Bool("json", false, "print JSON")
		pos, err := fs.parse(args, 1, 1)
		if err != nil {
			return err
		}
		ts, err := store.ReadRegistry(ctx, pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, toJSON(ts))
		}
		now := time.Now()
		w := table(e.stdout)
		fmt.Fprintln(w, "NAME\tADDRESS\tRUN\tRUNNING\tPID\tHEARTBEAT")
		for _, t := range ts {
			pid := "-"
			if t.PID > 0 {
				pid = strconv.Itoa(t.PID)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Address, yesNo(t.Run), yesNo(t.Running), pid, ago(now, t.Heartbeat))
		}
		return w.Flush()
	}
	return c
}
