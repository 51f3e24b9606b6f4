package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// errHelpShown reports that --help was requested and printed: exit 0.
var errHelpShown = errors.New("help shown")

// flagSet is a command's flags plus what its --help prints.
type flagSet struct {
	*flag.FlagSet
	cmd *command
	out io.Writer // where --help goes
}

// newFlags returns an empty flag set for command c; --help prints to e.stdout.
func newFlags(c *command, e *env) *flagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse errors are reported once, by Run
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, cmd: c, out: e.stdout}
}

func (fs *flagSet) printUsage() {
	c := fs.cmd
	fmt.Fprintf(fs.out, "Usage: pmonitor %s [flags] %s\n\n%s\n", c.name, c.args, c.summary)
	if c.help != "" {
		fmt.Fprintf(fs.out, "\n%s\n", strings.TrimSpace(c.help))
	}
	var hasFlags bool
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintf(fs.out, "\nFlags:\n")
		fs.SetOutput(fs.out)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// parse parses args with flags allowed before, between and after the
// positional arguments (orchestrators append flags: "monitor M W A --interval 2s").
// A lone "--" ends flag parsing. It checks that the number of positional
// arguments lies in [min, max] (max < 0: unbounded).
func (fs *flagSet) parse(args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.printUsage()
				return nil, errHelpShown
			}
			return nil, usageErrorf("%s: %v (see 'pmonitor %s --help')", fs.Name(), err, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if i := len(args) - len(rest) - 1; i >= 0 && args[i] == "--" {
			pos = append(pos, rest...) // after "--" everything is positional
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < min:
		return nil, usageErrorf("%s: missing arguments: want %s (see 'pmonitor %s --help')", fs.Name(), fs.cmd.args, fs.Name())
	case max >= 0 && len(pos) > max:
		return nil, usageErrorf("%s: too many arguments: %s (see 'pmonitor %s --help')",
			fs.Name(), strings.Join(pos[max:], " "), fs.Name())
	}
	return pos, nil
}
