package lab

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pmonitor/pmonitor/internal/report"
	"github.com/pmonitor/pmonitor/internal/store"
)

// ErrStopped is returned by Stop, and by Status, Matrix (in View.Err) and
// Events, once the lab is being stopped or closed.
var ErrStopped = errors.New("lab already stopped")

// killGrace is how long an agent has to exit after SIGTERM before SIGKILL.
const killGrace = 3 * time.Second

// Stop ends the run the way an orchestrator does: it sets run = FALSE for
// every registry row with plain SQL, waits up to Config.StopTimeout for the
// agents to exit on their own (killing the rest), consolidates the registry
// and every working database into Dir/analysis.db (report.Consolidate) and
// finally closes the lab (Close). The summary's Out is the analysis
// database's path. The error also reports agents that exited before Stop or
// had to be killed; the summary is valid whenever Out is set. ctx bounds the
// registry update and the consolidation, not the teardown: pass a live
// context (e.g. context.WithoutCancel of a canceled one) to get a result.
func (l *Lab) Stop(ctx context.Context) (report.Summary, error) {
	l.mu.Lock()
	already := l.stopped
	l.stopped = true
	l.mu.Unlock()
	if already {
		return report.Summary{}, ErrStopped
	}
	var errs []error
	for _, a := range l.agents {
		if a.exited() {
			errs = append(errs, a.failure()) // before anyone asked it to
		}
	}
	errs = append(errs, l.dbs.close())
	asked := time.Now()
	deadline := asked.Add(l.cfg.StopTimeout)
	if err := l.setRunFalse(ctx); err != nil {
		errs = append(errs, err) // nobody was asked: no point waiting
		deadline = time.Now()
	}
	var killed []string
	for _, a := range l.agents {
		if !a.wait(time.Until(deadline)) {
			killed = append(killed, a.key)
			a.signal(syscall.SIGTERM)
		}
	}
	killAt := time.Now().Add(killGrace)
	for _, a := range l.agents {
		if !a.wait(time.Until(killAt)) {
			a.kill()
		}
	}
	l.mu.Lock()
	l.timings.AgentsGone = time.Since(asked)
	l.mu.Unlock()
	if len(killed) > 0 {
		errs = append(errs, fmt.Errorf("%d agent(s) did not stop within %v of run = FALSE (terminated): %s",
			len(killed), l.cfg.StopTimeout, firstNames(killed, 10)))
	}
	out := filepath.Join(l.cfg.Dir, AnalysisFile)
	sum, err := report.Consolidate(ctx, l.master, out, l.WorkingPaths())
	if err != nil {
		sum.Out = ""
		errs = append(errs, err)
	}
	errs = append(errs, l.Close())
	if err := errors.Join(errs...); err != nil {
		return sum, fmt.Errorf("lab: stop: %w", err)
	}
	l.log.Debug("lab stopped", "analysis", out)
	return sum, nil
}

// setRunFalse asks every agent to stop, with the orchestrators' statement.
func (l *Lab) setRunFalse(ctx context.Context) error {
	reg, err := store.OpenRegistry(ctx, l.master)
	if err != nil {
		return err
	}
	defer reg.Close()
	if _, err := reg.DB().ExecContext(ctx, `UPDATE targets SET run = FALSE`); err != nil {
		return fmt.Errorf("set run = FALSE in %s: %w", l.master, err)
	}
	return nil
}

// WorkingPaths returns the agents' working databases, in Nodes order.
func (l *Lab) WorkingPaths() []string {
	out := make([]string, len(l.agents))
	for i, a := range l.agents {
		out[i] = a.work
	}
	return out
}

// Close kills the agents still running (SIGTERM, then SIGKILL after a
// grace period), waits for them and removes the network: no namespace,
// veth or bridge of the lab is left. The databases stay in Dir. It ignores
// cancellation (it takes no context) so it works from signal paths and
// t.Cleanup; calls after the first return the first result.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.stopped = true
		l.mu.Unlock()
		errs := []error{l.dbs.close()}
		for _, a := range l.agents {
			a.signal(syscall.SIGTERM)
		}
		deadline := time.Now().Add(killGrace)
		for _, a := range l.agents {
			if !a.wait(time.Until(deadline)) {
				a.kill()
			}
		}
		if l.spawn != nil {
			l.spawn.close()
		}
		if l.ready != nil {
			l.ready.Close()
		}
		if l.net != nil {
			errs = append(errs, l.net.Close())
		}
		l.closeErr = errors.Join(errs...)
		l.log.Debug("lab closed", "err", l.closeErr)
	})
	return l.closeErr
}

// firstNames joins up to n names, saying how many more there are.
func firstNames(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
