package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pmonitor/pmonitor/internal/probe"
)

func cmdProbe() *command {
	c := &command{
		name:    "probe",
		args:    "[TARGET...]",
		summary: "ping targets once and report loss and round-trip times, like fping",
		help: `Targets are IP addresses given as arguments and/or read from FILE (-f):
one address per line, '#' starts a comment, blank lines are skipped, '-'
reads standard input. Each target gets COUNT probes, one round every PERIOD;
probes are sent back to back, at least GAP apart.

Output: one line per target, "ADDR : xmt/rcv/%loss = 1/1/0%, min/avg/max =
0.05/0.05/0.05" (milliseconds), then a summary line. --json prints one JSON
document instead.

Exit status: 0 if every target answered at least once, 1 if some did not,
2 on usage or setup errors (for example no permission to open ICMP sockets).`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error { return runProbe(ctx, c, e, args) }
	return c
}

// probeOptions are the flags of 'pmonitor probe'.
type probeOptions struct {
	count   int
	gap     time.Duration
	timeout time.Duration
	period  time.Duration
	source  netip.Addr
	json    bool
}

func runProbe(ctx context.Context, c *command, e *env, args []string) error {
	fs := newFlags(c, e)
	var o probeOptions
	o.timeout, o.period = time.Second, time.Second
	fs.IntVar(&o.count, "c", 1, "`COUNT` of probes per target")
	fs.Var((*msDuration)(&o.gap), "i", "minimum `GAP` between two sends, e.g. 1ms; 0 sends as fast as possible")
	fs.Var((*msDuration)(&o.timeout), "t", "`TIMEOUT` of each probe, e.g. 500ms (plain numbers are milliseconds)")
	fs.Var((*msDuration)(&o.period), "p", "`PERIOD` between two probes of one target (with -c > 1)")
	src := fs.String("S", "", "send from source address `SRC`")
	file := fs.String("f", "", "read targets from `FILE` ('-' = standard input)")
	fs.BoolVar(&o.json, "json", false, "print one JSON document")
	pos, err := fs.parse(splitShortFlags(args, "citpSf"), 0, -1)
	if err != nil {
		return err
	}
	switch {
	case o.count < 1:
		return usageErrorf("probe: -c %d: need at least 1 probe", o.count)
	case o.timeout <= 0:
		return usageErrorf("probe: -t %v: timeout must be positive", o.timeout)
	case o.gap < 0 || o.period < 0:
		return usageErrorf("probe: -i and -p must not be negative")
	}
	if *src != "" {
		if o.source, err = netip.ParseAddr(*src); err != nil {
			return usageErrorf("probe: -S %q: not an IP address", *src)
		}
	}
	targets, err := loadProbeTargets(pos, *file)
	if err != nil {
		return err
	}
	eng, err := probe.New(ctx, probe.Config{Source: o.source, Gap: o.gap, Logger: e.log})
	if err != nil {
		return setupError(fmt.Errorf("probe: %w", err))
	}
	probeTally, elapsed, interrupted := runProbeRounds(ctx, eng, targets, o)
	probeTally.socketDrop = eng.Stats().SocketDrops
	if err := eng.Close(); err != nil {
		e.log.Warn("close probe engine", "err", err)
	}
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	if o.json {
		err = probeTally.writeJSON(w, targets, elapsed)
	} else {
		err = probeTally.writeText(w, targets, elapsed)
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	switch {
	case err != nil:
		return fmt.Errorf("probe: write results: %w", err)
	case interrupted:
		return &exitError{code: exitFailure, err: errors.New("probe: interrupted")}
	case probeTally.alive() < len(targets):
		return &exitError{code: exitFailure, silent: true}
	}
	return nil
}

// runProbeRounds sends o.count rounds of probes to targets and returns the
// probeTally, the elapsed time and whether ctx ended the run early.
func runProbeRounds(ctx context.Context, eng *probe.Engine, targets []netip.Addr, o probeOptions) (*probeTally, time.Duration, bool) {
	t := newProbeTally(len(targets))
	start := time.Now()
	for round := range o.count {
		if round > 0 {
			if wait := time.Until(start.Add(time.Duration(round) * o.period)); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return t, time.Since(start), true
				}
			}
		}
		done := t.startRound()
		for i, a := range targets {
			if err := eng.Send(a, o.timeout, func(r probe.Result) { t.record(i, r) }); err != nil {
				t.record(i, probe.Result{Target: a, Status: probe.StatusSendError, Reason: err.Error()})
			}
		}
		select {
		case <-done:
		case <-ctx.Done():
			eng.Close() // ends the pending probes, which completes the round
			<-done
			return t, time.Since(start), true
		}
	}
	return t, time.Since(start), false
}

// msDuration is a flag value that accepts Go durations ("1.5s") and, like
// fping, plain numbers of milliseconds ("500").
type msDuration time.Duration

func (d *msDuration) String() string { return time.Duration(*d).String() }

func (d *msDuration) Set(s string) error {
	if v, err := time.ParseDuration(s); err == nil {
		*d = msDuration(v)
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != v { // NaN
		return fmt.Errorf("invalid duration %q", s)
	}
	*d = msDuration(v * float64(time.Millisecond))
	return nil
}

// splitShortFlags rewrites fping-style attached values ("-c1", "-t500")
// of the one-letter flags in letters to "-c=1", until a lone "--".
func splitShortFlags(args []string, letters string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[2] != '=' && strings.IndexByte(letters, a[1]) >= 0 {
			a = a[:2] + "=" + a[2:]
		}
		out = append(out, a)
	}
	return out
}

// loadProbeTargets parses the targets given as arguments and in file (""
// = none, "-" = standard input). Duplicates are errors.
func loadProbeTargets(args []string, file string) ([]netip.Addr, error) {
	var (
		targets []netip.Addr
		origins []int32 // where each target was given: line number, or -(argument number)
	)
	add := func(s string, origin int32) error {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("%s: invalid address %q (IP literal expected)", probeOrigin(origin), s)
		}
		targets, origins = append(targets, a.Unmap()), append(origins, origin)
		return nil
	}
	for i, s := range args {
		if err := add(s, -int32(i+1)); err != nil {
			return nil, usageErrorf("probe: %v", err)
		}
	}
	prefix := "probe: "
	if file != "" {
		prefix = "probe: " + file + ": "
		var r io.Reader = os.Stdin
		if file == "-" {
			prefix = "probe: standard input: "
		} else {
			f, err := os.Open(file)
			if err != nil {
				return nil, usageErrorf("probe: %v", err)
			}
			defer f.Close()
			r = f
		}
		if err := readProbeTargets(r, add); err != nil {
			return nil, usageErrorf("%s%v", prefix, err)
		}
	}
	if len(targets) == 0 {
		return nil, usageErrorf("probe: no targets: give addresses or -f FILE (see 'pmonitor probe --help')")
	}
	if first, dup, ok := findDuplicate(targets); ok {
		if origins[dup] < 0 {
			prefix = "probe: "
		}
		on := "on "
		if origins[first] < 0 {
			on = "as "
		}
		return nil, usageErrorf("%s%s: duplicate address %q (first %s%s)",
			prefix, probeOrigin(origins[dup]), targets[dup], on, probeOrigin(origins[first]))
	}
	return targets, nil
}

// probeOrigin names where a target was given: "line 3" or "argument 2".
func probeOrigin(origin int32) string {
	if origin < 0 {
		return "argument " + strconv.Itoa(int(-origin))
	}
	return "line " + strconv.Itoa(int(origin))
}

// findDuplicate returns the earliest target that repeats an earlier one,
// and that earlier one. It sorts indexes rather than filling a map, which
// keeps 50,000 targets within a few hundred kilobytes.
func findDuplicate(targets []netip.Addr) (first, dup int, ok bool) {
	idx := make([]int32, len(targets))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		if c := targets[a].Compare(targets[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	dup = len(targets)
	for k, group := 1, 0; k < len(idx); k++ {
		if targets[idx[k]] != targets[idx[group]] {
			group = k
			continue
		}
		if int(idx[k]) < dup {
			first, dup = int(idx[group]), int(idx[k])
		}
	}
	return first, dup, dup < len(targets)
}

// readProbeTargets calls add for each address of r: one per line, '#'
// starts a comment, blank lines are skipped.
func readProbeTargets(r io.Reader, add func(s string, line int32) error) error {
	sc := bufio.NewScanner(r)
	for line := int32(1); sc.Scan(); line++ {
		s := sc.Bytes()
		if i := bytes.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		s = bytes.TrimSpace(s)
		if len(s) == 0 {
			continue
		}
		if err := add(string(s), line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}
