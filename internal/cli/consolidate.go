package cli

import (
	"context"
	"fmt"

	"github.com/pmonitor/pmonitor/internal/report"
)

func cmdConsolidate() *command {
	c := &command{
		name:    "consolidate",
		args:    "MASTER_DB OUT_DB WORKING_DB...",
		summary: "merge the registry and working databases into one analysis database",
		help: `OUT_DB gets a copy of the registry's targets table, node_history (one row per
agent and target, tagged with the agent's name in source_node), and the
agents' samples and events, each row tagged with its source node. A missing
or unreadable working database is reported and skipped; a locked one is
waited for up to 15 s first; one named twice (another spelling, a symlink)
is merged once. Exit 1 when no working database could be merged. Names are
plain file names ('?' and "file:" are no SQLite URI syntax). OUT_DB must not
exist; it appears complete or not at all.

Example:
  pmonitor consolidate master.db analysis.db work-*.db`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		asJSON := fs.Bool("json", false, "print the summary as JSON")
		pos, err := fs.parse(args, 3, -1)
		if err != nil {
			return err
		}
		sum, err := report.Consolidate(ctx, pos[0], pos[1], pos[2:])
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
