package cli

import (
	"context"
	"fmt"

	"github.com/pmonitor/pmonitor/internal/report"
)

func cmdConsolidate() *command {
	c := &command{
		name:    "consolidate",
		args:    "MASTER_DB OUT_DB [WORKING_DB...]",
		summary: "merge the registry and working databases into one analysis database",
		help: `OUT_DB gets a copy of the registry's targets table, node_history (one row per
agent and target, tagged with the agent's name in source_node), and the
agents' samples and events, each row tagged with its source node. A missing
or unreadable working database is reported and skipped; a locked one is
waited for up to 15 s first; one named twice (another spelling, a symlink)
is merged once. Exit 1 when no working database could be merged. Names are
plain file names ('?' and "file:" are no SQLite URI syntax). OUT_DB must not
exist; it appears complete or not at all.

With --from-registry the working databases of the running agents are
downloaded from their --listen address (GET /api/v1/working.db, which the
registry advertises), so no shared directory is needed; WORKING_DB
arguments are then optional and merged too.

Examples:
  pmonitor consolidate master.db analysis.db work-*.db
  pmonitor consolidate etcd://10.0.0.1:2379/mesh analysis.db --from-registry --api-token-file token`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		asJSON := fs.Bool("json", false, "print the summary as JSON")
		rf := addRegistryFlags(fs)
		fromRegistry := fs.Bool("from-registry", false, "download the running agents' working databases from the URLs the registry advertises")
		tokenFile := fs.String("api-token-file", "", "--from-registry: bearer token (first line of the file) for the agents' API")
		pos, err := fs.parse(args, 2, -1)
		if err != nil {
			return err
		}
		if len(pos) < 3 && !*fromRegistry {
			return usageErrorf("consolidate: missing arguments: want %s (or --from-registry)", c.args)
		}
		master, working, cleanup, err := consolidateInputs(ctx, e, rf, pos[0], pos[2:], *fromRegistry, *tokenFile)
		defer cleanup()
		if err != nil {
			return err
		}
		sum, err := report.Consolidate(ctx, master, pos[1], working)
		if err != nil {
			return err
		}
		if err := printConsolidated(e, sum, *asJSON); err != nil {
			return err
		}
		if len(sum.Sources) > 0 && sum.Skipped == len(sum.Sources) {
			return &exitError{code: exitFailure, err: fmt.Errorf("consolidate: no working database merged (%d skipped)", sum.Skipped)}
		}
		return nil
	}
	return c
}

// printConsolidated reports what went into the analysis database.
func printConsolidated(e *env, sum report.Summary, asJSON bool) error {
	if asJSON {
		return writeJSON(e.stdout, sum)
	}
	for _, s := range sum.Sources {
		if s.Error != "" {
			fmt.Fprintf(e.stderr, "pmonitor: consolidate: skipped %s: %s\n", s.Path, s.Error)
			continue
		}
		fmt.Fprintf(e.stdout, "%s (%s): %d targets, %d samples, %d events\n", s.Path, s.Node, s.Rows, s.Samples, s.Events)
	}
	fmt.Fprintf(e.stdout, "wrote %s: %d registry targets, %d working databases merged, %d skipped\n",
		sum.Out, sum.Targets, len(sum.Sources)-sum.Skipped, sum.Skipped)
	return nil
}
