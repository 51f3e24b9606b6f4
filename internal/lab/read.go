package lab

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pmonitor/pmonitor/internal/report"
	"github.com/pmonitor/pmonitor/internal/store"
)

// dbCache keeps one read-only handle per working database. A database the
// agent has not created yet is retried on the next read.
type dbCache struct {
	mu     sync.Mutex
	dbs    map[string]*sql.DB
	closed bool
}

func (c *dbCache) get(ctx context.Context, path string) (*sql.DB, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrStopped
	}
	if db := c.dbs[path]; db != nil {
		return db, nil
	}
	db, err := store.OpenReadOnly(ctx, path)
	if err != nil {
		return nil, err
	}
	if c.dbs == nil {
		c.dbs = map[string]*sql.DB{}
	}
	c.dbs[path] = db
	return db, nil
}

// close closes the handles for good: the agents' last connections then
// fold their write-ahead logs into the database files on exit.
func (c *dbCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for _, db := range c.dbs {
		errs = append(errs, db.Close())
	}
	c.dbs = nil
	return errors.Join(errs...)
}

// agentFor returns the agent named by key: its address, or a node name
// that has exactly one agent.
func (l *Lab) agentFor(key string) (*agent, error) {
	var found *agent
	for _, a := range l.agents {
		if a.node.Addr.Addr().String() == key {
			return a, nil
		}
		if a.node.Name == key || a.key == key {
			if found != nil && found != a {
				return nil, fmt.Errorf("lab: node %s has several agents: name one by its address", key)
			}
			found = a
		}
	}
	if found == nil {
		return nil, fmt.Errorf("lab: no agent %q", key)
	}
	return found, nil
}

// WorkingPath returns the working database of the agent named by key (its
// address, or a node name that has exactly one agent).
func (l *Lab) WorkingPath(key string) (string, error) {
	a, err := l.agentFor(key)
	if err != nil {
		return "", err
	}
	return a.work, nil
}

// Status answers the orchestrators' question for one agent (named by its
// address, or a node name that has exactly one agent) with the original
// queries on its working database, opened read-only.
func (l *Lab) Status(ctx context.Context, agent string, stableOnly bool) (report.Count, error) {
	a, err := l.agentFor(agent)
	if err != nil {
		return report.Count{}, err
	}
	db, err := l.dbs.get(ctx, a.work)
	if err != nil {
		return report.Count{}, fmt.Errorf("lab: agent %s: %w", a.key, err)
	}
	c, err := report.Status(ctx, db, stableOnly)
	if err != nil {
		return c, fmt.Errorf("lab: agent %s: %w", a.key, err)
	}
	return c, nil
}

// Matrix reads every agent's working database: who sees whom. An agent
// whose database cannot be read yet has a View with Err set.
func (l *Lab) Matrix(ctx context.Context) (Matrix, error) {
	m := Matrix{Time: time.Now(), Agents: make([]View, len(l.agents))}
	for i, a := range l.agents {
		v := View{Node: a.node, Running: !a.exited()}
		db, err := l.dbs.get(ctx, a.work)
		if err == nil {
			v.Rows, err = report.List(ctx, db, report.All)
		}
		if err != nil {
			if ctx.Err() != nil {
				return m, fmt.Errorf("lab: matrix: %w", ctx.Err())
			}
			v.Err = err
		}
		m.Agents[i] = v
	}
	return m, nil
}

// WaitFor reads the Matrix every 100 ms until cond accepts it and returns
// that Matrix. It fails when ctx ends (with the last Matrix) or when an
// agent exits before Stop (with the end of its log). When reading the
// matrix takes longer (a thousand agents, a million rows) it waits as long
// as the last read took, so that it never takes more than half a core.
func (l *Lab) WaitFor(ctx context.Context, cond func(Matrix) bool) (Matrix, error) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		start := time.Now()
		m, err := l.Matrix(ctx)
		if err == nil && cond(m) {
			return m, nil
		}
		if err := l.earlyExit(); err != nil {
			return m, err
		}
		timer.Reset(max(100*time.Millisecond, time.Since(start)))
		select {
		case <-ctx.Done():
			return m, fmt.Errorf("lab: wait: %w (failing pairs: %s)", ctx.Err(), summarize(m.Failing(), 8))
		case <-timer.C:
		}
	}
}

// earlyExit returns an error for the first agent that exited before Stop.
func (l *Lab) earlyExit() error {
	l.mu.Lock()
	stopped := l.stopped
	l.mu.Unlock()
	if stopped {
		return nil
	}
	for _, a := range l.agents {
		if a.exited() {
			return fmt.Errorf("lab: %w", a.failure())
		}
	}
	return nil
}

// summarize joins at most n items, saying how many more there are.
func summarize(items []string, n int) string {
	if len(items) == 0 {
		return "none"
	}
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// Event is an up/down transition recorded by one agent.
type Event struct {
	Time      time.Time
	Agent     string     // the agent's node name
	AgentAddr netip.Addr // the agent's address
	Target    string     // the target's name
	Address   string     // the target's address
	Up        bool
	Reason    string        // on down: why the probe failed (timeout, unreachable, ...)
	Outage    time.Duration // on up after a down: how long it lasted; 0 on a first answer
}

// Events returns the events every agent recorded after since, oldest first.
// Agents whose database cannot be read yet are skipped.
func (l *Lab) Events(ctx context.Context, since time.Time) ([]Event, error) {
	var out []Event
	for _, a := range l.agents {
		db, err := l.dbs.get(ctx, a.work)
		if err != nil {
			continue
		}
		evs, err := readEvents(ctx, db, since)
		if err != nil {
			return nil, fmt.Errorf("lab: events of agent %s: %w", a.key, err)
		}
		for i := range evs {
			evs[i].Agent, evs[i].AgentAddr = a.node.Name, a.node.Addr.Addr()
		}
		out = append(out, evs...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

func readEvents(ctx context.Context, db *sql.DB, since time.Time) ([]Event, error) {
	after := store.Epoch(since)
	rows, err := db.QueryContext(ctx, `SELECT time, address, name, state, COALESCE(reason, ''), COALESCE(outage_seconds, 0)
		FROM events WHERE time > ? ORDER BY time`, after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var t, outage float64
		var state string
		if err := rows.Scan(&t, &e.Address, &e.Target, &state, &e.Reason, &outage); err != nil {
			return nil, err
		}
		e.Time = store.FromEpoch(t)
		e.Up = state == "up"
		e.Outage = time.Duration(outage * float64(time.Second))
		out = append(out, e)
	}
	return out, rows.Err()
}
