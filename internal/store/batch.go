package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Sample is the outcome of one probe, as the agent decided to record it.
type Sample struct {
	Address  string
	Time     time.Time     // when the probe was sent
	Answered bool          // a reply arrived before the deadline
	RTT      time.Duration // valid when Answered
	// Counted applies the counting rule: true once the target has answered
	// at least once (this probe included). Only counted probes touch
	// total_count, total_success and responded; sample_time follows every
	// probe that is not Stale.
	Counted bool
	// StateChanged marks a transition (first answer, up→down, down→up):
	// state_change_time takes Time.
	StateChanged bool
	// Stale marks a result that ended after the result of a newer probe:
	// it is counted, but responded, sample_time and the failure streak
	// keep following the newest probe.
	Stale bool
}

// Event is an up/down transition of a target.
type Event struct {
	Time    time.Time
	Address string
	Name    string
	Up      bool
	Reason  string        // on down: why the probe failed
	Outage  time.Duration // on up after a down: how long it lasted
	// First marks the target's first answer since it was added: recorded
	// like any up event, but it is start-up, not news (the agent neither
	// logs it nor writes it ahead of its batch).
	First bool
}

// Batch is what the agent writes in one transaction.
type Batch struct {
	Samples   []Sample
	Events    []Event
	Heartbeat time.Time // if set, refreshes the me row's heartbeat
	History   bool      // also append the samples to the samples table
}

// updateTarget applies one sample with increments rather than absolute
// values, so an orchestrator that resets counters with plain SQL while the
// agent runs is respected. sample_time follows every probe, counted or
// not, so that the original "last five" query (ORDER BY sample_time) lists
// a target that never answered.
const updateTarget = `UPDATE targets SET
	sent = COALESCE(sent, 0) + 1,
	received = COALESCE(received, 0) + ?1,
	total_count = COALESCE(total_count, 0) + ?2,
	total_success = COALESCE(total_success, 0) + (?1 AND ?2),
	responded = CASE WHEN ?2 AND NOT ?7 THEN ?1 ELSE responded END,
	sample_time = CASE WHEN NOT ?7 THEN ?3 ELSE sample_time END,
	rtt_last_ms = CASE WHEN ?1 THEN ?4 ELSE rtt_last_ms END,
	rtt_min_ms = CASE WHEN ?1 THEN MIN(COALESCE(rtt_min_ms, ?4), ?4) ELSE rtt_min_ms END,
	rtt_max_ms = CASE WHEN ?1 THEN MAX(COALESCE(rtt_max_ms, ?4), ?4) ELSE rtt_max_ms END,
	rtt_sum_ms = COALESCE(rtt_sum_ms, 0) + CASE WHEN ?1 THEN ?4 ELSE 0 END,
	consecutive_failures = CASE WHEN ?7 THEN consecutive_failures WHEN ?1 THEN 0 ELSE COALESCE(consecutive_failures, 0) + 1 END,
	state_change_time = CASE WHEN ?5 THEN ?3 ELSE state_change_time END
	WHERE address = ?6 AND COALESCE(me, FALSE) = FALSE`

// insertShapes are the row counts of the multi-row INSERTs of samples,
// largest first: a batch goes in as few statements as these make up (an
// idle agent's 30 samples take 3 statements, not 30). Fixed shapes keep
// every statement prepared once.
var insertShapes = [...]int{64, 16, 4, 1}

// writeStmts are the statements of Write, prepared once per database.
type writeStmts struct {
	update, event, heartbeat *sql.Stmt
	samples                  [len(insertShapes)]*sql.Stmt // INSERT of insertShapes[i] rows
}

func prepareWrites(ctx context.Context, db *sql.DB) (*writeStmts, error) {
	ws := &writeStmts{}
	type prep struct {
		stmt  **sql.Stmt
		query string
	}
	preps := []prep{
		{&ws.update, updateTarget},
		{&ws.event, `INSERT INTO events(time, address, name, state, reason, outage_seconds) VALUES (?, ?, ?, ?, ?, ?)`},
		{&ws.heartbeat, `UPDATE targets SET heartbeat = ? WHERE me = TRUE`},
	}
	for i, n := range insertShapes {
		rows := strings.TrimSuffix(strings.Repeat("(?,?,?,?),", n), ",")
		preps = append(preps, prep{&ws.samples[i], `INSERT INTO samples(time, address, answered, rtt_ms) VALUES ` + rows})
	}
	for _, p := range preps {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			ws.close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		*p.stmt = st
	}
	return ws, nil
}

func (ws *writeStmts) close() {
	for _, st := range append([]*sql.Stmt{ws.update, ws.event, ws.heartbeat}, ws.samples[:]...) {
		if st != nil {
			st.Close()
		}
	}
}

// Write applies a batch in one transaction: either all of it lands or none.
// A batch, once begun, is not interrupted by ctx: the driver would start a
// watcher goroutine for every statement (thousands per batch), and the busy
// timeout already bounds the wait; ctx is checked before it begins.
func (w *Working) Write(ctx context.Context, b Batch) error {
	if len(b.Samples) == 0 && len(b.Events) == 0 && b.Heartbeat.IsZero() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	return w.inTx(ctx, "write batch", func(tx *sql.Tx) error {
		update := tx.StmtContext(ctx, w.stmts.update)
		for _, s := range b.Samples {
			var rtt any
			if s.Answered {
				rtt = ms(s.RTT)
			}
			if _, err := update.ExecContext(ctx, s.Answered, s.Counted, Epoch(s.Time), rtt, s.StateChanged, s.Address, s.Stale); err != nil {
				return fmt.Errorf("update %s: %w", s.Address, err)
			}
		}
		if b.History {
			if err := w.insertSamples(ctx, tx, b.Samples); err != nil {
				return err
			}
		}
		event := tx.StmtContext(ctx, w.stmts.event)
		for _, e := range b.Events {
			state, outage := "down", any(nil)
			if e.Up {
				state = "up"
				if e.Outage > 0 {
					outage = e.Outage.Seconds()
				}
			}
			if _, err := event.ExecContext(ctx, Epoch(e.Time), e.Address, e.Name, state, nullString(e.Reason), outage); err != nil {
				return fmt.Errorf("insert event: %w", err)
			}
		}
		if !b.Heartbeat.IsZero() {
			if _, err := tx.StmtContext(ctx, w.stmts.heartbeat).ExecContext(ctx, Epoch(b.Heartbeat)); err != nil {
				return fmt.Errorf("heartbeat: %w", err)
			}
		}
		return nil
	})
}

func (w *Working) insertSamples(ctx context.Context, tx *sql.Tx, samples []Sample) error {
	args := make([]any, 0, 4*insertShapes[0])
	for i, n := range insertShapes {
		if len(samples) < n {
			continue
		}
		st := tx.StmtContext(ctx, w.stmts.samples[i])
		for len(samples) >= n {
			args = args[:0]
			for _, s := range samples[:n] {
				var rtt any
				if s.Answered {
					rtt = ms(s.RTT)
				}
				args = append(args, Epoch(s.Time), s.Address, s.Answered, rtt)
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("insert samples: %w", err)
			}
			samples = samples[n:]
		}
	}
	return nil
}

// Prune deletes samples older than before and returns how many went.
func (w *Working) Prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := w.db.ExecContext(ctx, `DELETE FROM samples WHERE time < ?`, Epoch(before))
	if err != nil {
		return 0, fmt.Errorf("prune samples in %s: %w", w.path, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
