// Package selftest is the scenario of 'pmonitor test', the original tool's
// test mode on real emulated hosts: agents converge, see a cut host fail and
// see it come back, then stop through the registry's run flag and are
// consolidated. cmd 'test' only wires flags to Run.
package selftest

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/pmonitor/pmonitor/internal/lab"
	"github.com/pmonitor/pmonitor/internal/report"
)

// Nodes are the original tool's predefined test data: host3 is one
// host with two addresses, only one of them stable.
var Nodes = []lab.Node{
	{Name: "host1", Addr: netip.MustParsePrefix("192.168.33.1/24"), Stable: true, Agent: true},
	{Name: "host2", Addr: netip.MustParsePrefix("192.168.44.2/24"), Stable: true},
	{Name: "host3", Addr: netip.MustParsePrefix("192.168.55.2/24"), Stable: true},
	{Name: "host3", Addr: netip.MustParsePrefix("192.168.55.3/24"), Stable: false, Agent: true},
}

// Cut is the host whose uplink the test takes down.
const Cut = "host2"

// Config is one run of the scenario.
type Config struct {
	Dir               string // where the databases and agent logs go
	Keep              bool   // Dir is kept afterwards: the result names it and its analysis database
	Interval, Timeout time.Duration
	Out               io.Writer // progress and PASS/FAIL lines
	Logger            *slog.Logger
}

// Run runs the scenario. The error says why it could not run to the end
// (no root, interrupted, an agent died); a check that fails is in Result.
func Run(ctx context.Context, cfg Config) (Result, error) {
	s := &scenario{out: cfg.Out}
	if cfg.Keep {
		s.res.Dir = cfg.Dir
	}
	err := s.run(ctx, lab.Config{Dir: cfg.Dir, Nodes: Nodes, Interval: cfg.Interval, Timeout: cfg.Timeout, Logger: cfg.Logger})
	if err != nil {
		s.res.Error = err.Error()
	}
	s.res.OK = err == nil && s.res.Passed()
	return s.res, err
}

// Result is the outcome of Run, as 'pmonitor test --json' prints it.
type Result struct {
	OK       bool    `json:"ok"`
	Dir      string  `json:"dir,omitempty"`      // with --keep
	Analysis string  `json:"analysis,omitempty"` // with --keep
	Checks   []Check `json:"checks"`
	Error    string  `json:"error,omitempty"` // the test could not run to the end
}

// Check is one PASS/FAIL line.
type Check struct {
	Name    string                  `json:"name"`
	OK      bool                    `json:"ok"`
	Detail  string                  `json:"detail"`
	Status  map[string]report.Count `json:"status,omitempty"` // by agent address
	Seconds float64                 `json:"seconds"`
}

// Passed reports whether there were checks and all of them passed.
func (r *Result) Passed() bool { return r.Failed() == 0 && len(r.Checks) > 0 }

// Failed counts the checks that failed.
func (r *Result) Failed() int {
	n := 0
	for _, c := range r.Checks {
		if !c.OK {
			n++
		}
	}
	return n
}
