package cli

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pmonitor/pmonitor/internal/report"
	"github.com/pmonitor/pmonitor/internal/store"
)

func cmdStatus() *command {
	c := &command{
		name:    "status",
		args:    "WORKING_DB",
		summary: "print how many targets answer: status GOOD / TOTAL",
		help: `GOOD counts targets whose last counted probe was answered, TOTAL those that
have answered at least once (the original tool's queries). A zero-byte or
table-less file (an agent that has not started yet) is status 0 / 0.

Example:
  pmonitor status work-h1.db --stable --json`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		stable := fs.Bool("stable", false, "count only stable targets")
		asJSON := fs.Bool("json", false, `print {"good":G,"total":T}`)
		pos, err := fs.parse(args, 1, 1)
		if err != nil {
			return err
		}
		var cnt report.Count
		db, err := store.OpenReadOnly(ctx, pos[0])
		switch {
		case errors.Is(err, store.ErrNoTargets):
			// A zero-byte or table-less file: the agent has not started
			// yet, so nothing answers and nothing counts.
		case err != nil:
			return err
		default:
			defer db.Close()
			if cnt, err = report.Status(ctx, db, *stable); err != nil {
				return err
			}
		}
		if *asJSON {
			return writeJSON(e.stdout, cnt)
		}
		fmt.Fprintf(e.stdout, "status %d / %d\n", cnt.Good, cnt.Total)
		return nil
	}
	return c
}

func cmdList() *command {
	c := &command{
		name:    "list",
		args:    "WORKING_DB",
		summary: "print the per-target status list",
		help: `Lists the targets that have answered once (the original status list), with
their counts and round-trip times; --all adds those still waiting for a
first answer.

Example:
  pmonitor list work-h1.db`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		all := fs.Bool("all", false, "include targets that never answered")
		asJSON := fs.Bool("json", false, "print JSON")
		pos, err := fs.parse(args, 1, 1)
		if err != nil {
			return err
		}
		f := report.Counted
		if *all {
			f = report.All
		}
		return printRows(ctx, e, pos[0], *asJSON, func(ctx context.Context, db *sql.DB) ([]report.Row, error) {
			return report.List(ctx, db, f)
		})
	}
	return c
}

func cmdLast() *command {
	c := &command{
		name:    "last",
		args:    "WORKING_DB",
		summary: "print the most recently sampled targets",
		help: `The original "last five" (ORDER BY sample_time DESC): every target the
agent has probed, answered or not, newest first.

Example:
  pmonitor last work-h1.db -n 5`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		n := fs.Int("n", 5, "how many targets")
		asJSON := fs.Bool("json", false, "print JSON")
		pos, err := fs.parse(args, 1, 1)
		if err != nil {
			return err
		}
		if *n < 1 {
			return usageErrorf("last: -n must be at least 1")
		}
		return printRows(ctx, e, pos[0], *asJSON, func(ctx context.Context, db *sql.DB) ([]report.Row, error) {
			return report.Last(ctx, db, *n)
		})
	}
	return c
}
