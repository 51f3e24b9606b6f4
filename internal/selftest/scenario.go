package selftest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/pmonitor/pmonitor/internal/lab"
	"github.com/pmonitor/pmonitor/internal/report"
)

// scenario runs the steps of 'pmonitor test', printing progress to out and
// collecting the checks in res.
type scenario struct {
	out io.Writer
	res Result
	l   *lab.Lab
}

func (s *scenario) run(ctx context.Context, cfg lab.Config) error {
	fmt.Fprintf(s.out, "pmonitor test: host1 192.168.33.1, host2 192.168.44.2, host3 192.168.55.2 + 192.168.55.3 (unstable)\n")
	fmt.Fprintf(s.out, "agents on 192.168.33.1 and 192.168.55.3, interval %v, timeout %v\n", cfg.Interval, cfg.Timeout)
	l, err := lab.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer l.Close()
	s.l = l
	nodes := len(cfg.Nodes)
	round := cfg.Interval + cfg.Timeout
	all := report.Count{Good: nodes - 1, Total: nodes - 1}
	cut := netip.MustParsePrefix("192.168.44.2/24").Addr()

	fmt.Fprintf(s.out, "\nwaiting for a first round...\n")
	if err := s.step(ctx, "converge", "every agent sees all targets answering", 3*round+10*time.Second,
		func(m lab.Matrix) bool { return m.Converged(nodes) }, all); err != nil {
		return err
	}

	fmt.Fprintf(s.out, "\ncutting %s's link (%s)...\n", Cut, cut)
	if err := l.Cut(ctx, Cut); err != nil {
		return err
	}
	if err := s.step(ctx, "cut", fmt.Sprintf("both agents see %s fail (responded = FALSE in both working databases)", Cut),
		2*round+5*time.Second, func(m lab.Matrix) bool { return onlyDown(m, cut) },
		report.Count{Good: nodes - 2, Total: nodes - 1}); err != nil {
		return err
	}

	fmt.Fprintf(s.out, "\nrestoring %s's link...\n", Cut)
	if err := l.Restore(ctx, Cut); err != nil {
		return err
	}
	if err := s.step(ctx, "restore", fmt.Sprintf("both agents see %s answer again", Cut), 2*round+5*time.Second,
		func(m lab.Matrix) bool { return m.Converged(nodes) }, all); err != nil {
		return err
	}

	fmt.Fprintf(s.out, "\nstopping the agents (UPDATE targets SET run = FALSE)...\n")
	return s.stop(ctx)
}

// onlyDown reports whether every agent has seen the target at down fail on
// its last counted probe while all its other targets answer.
func onlyDown(m lab.Matrix, down netip.Addr) bool {
	for _, v := range m.Agents {
		if len(v.Rows) == 0 {
			return false
		}
		for _, r := range v.Rows {
			isDown := r.Address == down.String()
			if isDown && (r.Responded || r.TotalCount == 0) || !isDown && !r.Responded {
				return false
			}
		}
	}
	return true
}

// step waits up to limit for cond, prints every agent's status (the
// original queries on its working database) and records a check that
// passes when cond held in time and every status is want. It returns an
// error only when the test cannot go on (interrupted, an agent died).
func (s *scenario) step(ctx context.Context, name, what string, limit time.Duration, cond func(lab.Matrix) bool, want report.Count) error {
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, limit)
	m, werr := s.l.WaitFor(wctx, cond)
	cancel()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	if werr != nil && !errors.Is(werr, context.DeadlineExceeded) {
		return werr
	}
	c := Check{Name: name, OK: werr == nil, Detail: what, Status: map[string]report.Count{}}
	for _, v := range m.Agents {
		addr := v.Node.Addr.Addr().String()
		cnt, err := s.l.Status(ctx, addr, false)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.out, "%s %s: status %d / %d\n", v.Node.Name, addr, cnt.Good, cnt.Total)
		c.Status[addr] = cnt
		if cnt != want {
			c.OK = false
		}
	}
	c.Seconds = time.Since(start).Seconds()
	if werr != nil {
		c.Detail += fmt.Sprintf(": not within %v (%v)", limit, werr)
	} else if !c.OK {
		c.Detail += fmt.Sprintf(": want status %d / %d for every agent", want.Good, want.Total)
	}
	s.record(c)
	return nil
}

// stop stops the agents through the registry, consolidates and checks
// that nothing of the network is left.
func (s *scenario) stop(ctx context.Context) error {
	start := time.Now()
	prefix := s.l.Prefix()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	sum, err := s.l.Stop(sctx)
	c := Check{Name: "stop", OK: err == nil && sum.Skipped == 0}
	var rows int64
	for _, src := range sum.Sources {
		rows += src.Rows
	}
	c.Detail = fmt.Sprintf("agents stopped through the run flag; %d node_history rows from %d agents consolidated", rows, len(sum.Sources))
	if err != nil {
		c.Detail = err.Error()
	}
	c.Seconds = time.Since(start).Seconds()
	s.record(c)
	if s.res.Dir != "" && sum.Out != "" {
		s.res.Analysis = sum.Out
		fmt.Fprintf(s.out, "databases and agent logs kept in %s (analysis: %s)\n", s.res.Dir, filepath.Base(sum.Out))
	}

	left, err := lab.Leftovers(prefix)
	c = Check{Name: "cleanup", OK: err == nil && len(left) == 0,
		Detail: fmt.Sprintf("nothing left in the kernel (no namespace or link named %s-*)", prefix)}
	if err != nil || len(left) > 0 {
		c.Detail = fmt.Sprintf("left behind: %v %v", left, err)
	}
	s.record(c)
	return nil
}

// record adds c to the result and prints its PASS/FAIL line.
func (s *scenario) record(c Check) {
	s.res.Checks = append(s.res.Checks, c)
	verdict := "PASS"
	if !c.OK {
		verdict = "FAIL"
	}
	took := ""
	if c.Seconds >= 0.05 {
		took = fmt.Sprintf(" (%.1fs)", c.Seconds)
	}
	fmt.Fprintf(s.out, "%s  %s%s\n", verdict, c.Detail, took)
}
