// Package report answers what orchestrators ask of working databases: how
// many targets answer, the per-target status list, the last samples; and it
// consolidates the registry and every working database into one analysis
// database. The counts use the exact queries of the original tool.
package report

import (
	"context"
	"database/sql"
	"fmt"
)

// Count is the answer to "how many targets answer": good of total.
type Count struct {
	Good  int `json:"good"`
	Total int `json:"total"`
}

// The original queries, verbatim (../shared/SEMANTICS.md).
const (
	qGoodStable  = `SELECT COUNT(*) FROM targets WHERE stable = TRUE AND responded = TRUE`
	qTotalStable = `SELECT COUNT(*) FROM targets WHERE stable = TRUE AND total_count > 0`
	qGoodAll     = `SELECT COUNT(*) FROM targets WHERE responded = TRUE`
	qTotalAll    = `SELECT COUNT(*) FROM targets WHERE total_count > 0`
)

// Status counts the targets that answered their last counted probe (good)
// among those that have answered once (total), all or only stable ones. It
// reads both counts in one transaction so they agree with each other.
func Status(ctx context.Context, db *sql.DB, stableOnly bool) (Count, error) {
	qg, qt := qGoodAll, qTotalAll
	if stableOnly {
		qg, qt = qGoodStable, qTotalStable
	}
	var c Count
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return c, fmt.Errorf("status: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, qg).Scan(&c.Good); err != nil {
		return c, fmt.Errorf("status: %w", err)
	}
	if err := tx.QueryRowContext(ctx, qt).Scan(&c.Total); err != nil {
		return c, fmt.Errorf("status: %w", err)
	}
	return c, nil
}
