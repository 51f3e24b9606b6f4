package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

func cmdAgents() *command {
	c := &command{
		name:    "agents",
		args:    "MASTER_DB",
		summary: "show every registry row with its run and running flags, last heartbeat and API URL",
		help: `A running agent refreshes its registry heartbeat every 30 seconds (its working
database's me row at every write, at least every 30 s); a running flag with a
heartbeat older than a minute means the agent died without cleaning up.
API is where a running agent started with --listen serves /metrics and its
working database (consolidate and serve --from-registry read it there); in
an etcd registry it lives on the agent's lease and goes with it.

Example:
  pmonitor agents master.db --json`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		asJSON := fs.Bool("json", false, "print JSON")
		rf := addRegistryFlags(fs)
		pos, err := fs.parse(args, 1, 1)
		if err != nil {
			return err
		}
		ts, err := rf.readTargets(ctx, pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, toJSON(ts))
		}
		now := time.Now()
		w := table(e.stdout)
		fmt.Fprintln(w, "NAME\tADDRESS\tRUN\tRUNNING\tPID\tHEARTBEAT\tAPI")
		for _, t := range ts {
			pid, api := "-", "-"
			if t.PID > 0 {
				pid = strconv.Itoa(t.PID)
			}
			if t.Running && t.APIURL != "" {
				api = t.APIURL
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Address, yesNo(t.Run), yesNo(t.Running), pid, ago(now, t.Heartbeat), api)
		}
		return w.Flush()
	}
	return c
}
