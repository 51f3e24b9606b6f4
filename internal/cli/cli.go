// Package cli implements the pmonitor command line: one file per subcommand,
// each returning an error that Run turns into a one-line message and an exit
// code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/pmonitor/pmonitor/internal/store"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran but the outcome is negative (e.g. a target did not answer)
	exitUsage   = 2 // bad arguments, bad input data or a setup error
)

// env carries what a subcommand may touch: its output streams and a logger.
// Nothing global is mutated.
type env struct {
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

// command is one subcommand.
type command struct {
	name    string
	args    string // positional synopsis, e.g. "MASTER_DB TARGETS_FILE"
	summary string
	help    string // optional longer text for --help
	hidden  bool
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists every subcommand. Keep it sorted by name.
func commands() []*command {
	cmds := []*command{
		cmdAgents(),
		cmdConsolidate(),
		cmdDemo(),
		cmdEmulate(),
		cmdInit(),
		cmdLast(),
		cmdList(),
		cmdMonitor(),
		cmdProbe(),
		cmdServe(),
		cmdStart(),
		cmdStatus(),
		cmdStop(),
		cmdTargets(),
		cmdTest(),
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

// Run executes the command line args (without the program name) and returns
// the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{
		stdout: stdout,
		stderr: stderr,
		log:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name {
			return exitCode(stderr, c.run(ctx, e, args[1:]))
		}
	}
	fmt.Fprintf(stderr, "pmonitor: unknown command %q (run 'pmonitor --help')\n", name)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "pmonitor: ping-mesh reachability monitor\n\nUsage: pmonitor COMMAND [flags] [args]\n\nCommands:\n")
	for _, c := range commands() {
		if !c.hidden {
			fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprintf(w, "\nRun 'pmonitor COMMAND --help' for the flags of a command.\n")
}

// exitCode prints err (if any) as one line and maps it to an exit code.
func exitCode(stderr io.Writer, err error) int {
	if err == nil || errors.Is(err, errHelpShown) {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && !ee.silent {
			fmt.Fprintf(stderr, "pmonitor: %s\n", oneLine(ee.err.Error()))
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "pmonitor: %s\n", oneLine(err.Error()))
	if errors.Is(err, store.ErrDuplicateTarget) || errors.Is(err, store.ErrUnknownTarget) {
		return exitUsage // the command line names an address the registry cannot take or does not hold
	}
	return exitFailure
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }

// exitError carries a specific exit code.
type exitError struct {
	code   int
	err    error
	silent bool // the command already reported the outcome
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageErrorf reports bad arguments: exit code 2.
func usageErrorf(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// dataError marks err as bad input data (a targets file that does not
// validate): exit code 2, like a usage error.
func dataError(err error) error { return &exitError{code: exitUsage, err: err} }

// setupError marks err as a setup failure (missing privileges, bad address): exit code 2.
func setupError(err error) error { return &exitError{code: exitUsage, err: err} }
