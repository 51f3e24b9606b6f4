package cli

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/pmonitor/pmonitor/internal/report"
	"github.com/pmonitor/pmonitor/internal/store"
)

// printRows opens a working database read-only, fetches rows and prints them.
func printRows(ctx context.Context, e *env, path string, asJSON bool, fetch func(context.Context, *sql.DB) ([]report.Row, error)) error {
	db, err := store.OpenReadOnly(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := fetch(ctx, db)
	if err != nil {
		return err
	}
	if asJSON {
		if rows == nil {
			rows = []report.Row{}
		}
		return writeJSON(e.stdout, rows)
	}
	now := time.Now()
	w := table(e.stdout)
	fmt.Fprintln(w, "NAME\tADDRESS\tRESPONDED\tSUCCESS/COUNT\tRTT LAST/AVG ms\tSAMPLED")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d/%d\t%s/%s\t%s\n", r.Name, r.Address, yesNo(r.Responded),
			r.TotalSuccess, r.TotalCount, msText(r.RTTLastMS), msText(r.RTTAvgMS), ago(now, r.SampleTime))
	}
	return w.Flush()
}
