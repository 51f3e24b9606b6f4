package cli

import (
	"context"
	"fmt"

	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/targetfile"
)

func cmdInit() *command {
	c := &command{
		name:    "init",
		args:    "MASTER_DB TARGETS_FILE",
		summary: "(re)create the registry with exactly the targets of a file",
		help: `TARGETS_FILE is CSV lines "name,address,stable" (header optional, stable is
true/false/yes/no/1/0 and defaults to true, '#' starts a comment) or a JSON
array of {"name","address","stable"} objects. All or nothing: on any error
the registry is left unchanged.

Example:
  pmonitor init master.db targets.csv`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		asJSON := fs.Bool("json", false, "print the result as JSON")
		rf := addRegistryFlags(fs)
		pos, err := fs.parse(args, 2, 2)
		if err != nil {
			return err
		}
		// Parse everything before touching the registry, so a bad file
		// leaves it byte-for-byte unchanged (or absent).
		entries, err := targetfile.Load(pos[1])
		if err != nil {
			return dataError(err)
		}
		reg, err := rf.create(ctx, pos[0])
		if err != nil {
			return err
		}
		defer reg.Close()
		targets := make([]store.Target, len(entries))
		for i, t := range entries {
			targets[i] = store.Target{Address: t.Address, Name: t.Name, Stable: t.Stable, Run: true}
		}
		if err := reg.Replace(ctx, targets); err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, map[string]any{"registry": pos[0], "targets": len(targets)})
		}
		fmt.Fprintf(e.stdout, "registry %s: %d targets\n", pos[0], len(targets))
		return nil
	}
	return c
}
