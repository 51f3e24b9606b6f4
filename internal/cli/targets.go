package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/targetfile"
)

func cmdTargets() *command {
	c := &command{
		name:    "targets",
		args:    "list|add|remove MASTER_DB ...",
		summary: "inspect and edit the registry while agents run",
		help: `Subcommands:
  targets list MASTER_DB [--json]
  targets add MASTER_DB NAME ADDRESS [--unstable]
  targets remove MASTER_DB ADDRESS...

Running agents pick up additions and removals within a second.

Examples:
  pmonitor targets add master.db ground7 10.0.7.1 --unstable
  pmonitor targets remove master.db 10.0.7.1`,
	}
	c.run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(c, e)
		asJSON := fs.Bool("json", false, "list: print JSON")
		rf := addRegistryFlags(fs)
		unstable := fs.Bool("unstable", false, "add: the target is not expected to always answer (stable = FALSE)")
		pos, err := fs.parse(args, 2, -1)
		if err != nil {
			return err
		}
		sub, path, rest := pos[0], pos[1], pos[2:]
		switch sub {
		case "list":
			if len(rest) > 0 {
				return usageErrorf("targets list: too many arguments: %s", strings.Join(rest, " "))
			}
		case "add":
			if len(rest) != 2 {
				return usageErrorf("targets add: want MASTER_DB NAME ADDRESS")
			}
		case "remove":
			if len(rest) == 0 {
				return usageErrorf("targets remove: want MASTER_DB ADDRESS...")
			}
		default:
			return usageErrorf("targets: unknown subcommand %q (want list, add or remove)", sub)
		}
		if sub == "list" {
			// Read-only: never migrates or converts a registry to WAL.
			ts, err := rf.readTargets(ctx, path)
			if err != nil {
				return err
			}
			return printTargets(e, ts, *asJSON)
		}
		reg, err := rf.open(ctx, path)
		if err != nil {
			return err
		}
		defer reg.Close()
		switch sub {
		case "add":
			name := strings.TrimSpace(rest[0])
			if name == "" {
				return usageErrorf("targets add: missing name")
			}
			if err := targetfile.CheckName(name); err != nil {
				return usageErrorf("targets add: %w", err)
			}
			addr, err := targetfile.ParseAddress(rest[1])
			if err != nil {
				return usageErrorf("targets add: %w", err)
			}
			t := store.Target{Address: addr, Name: name, Stable: !*unstable, Run: true}
			if err := reg.Add(ctx, t); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "added %s %s\n", t.Name, t.Address)
		case "remove":
			if err := reg.Remove(ctx, rest...); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "removed %s\n", strings.Join(canonical(rest), " "))
		}
		return nil
	}
	return c
}

// canonical returns the addresses in the form the registry stores.
func canonical(addrs []string) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = store.CanonicalAddress(a)
	}
	return out
}

// targetJSON is a registry row as scripts read it.
type targetJSON struct {
	Name      string     `json:"name"`
	Address   string     `json:"address"`
	Stable    bool       `json:"stable"`
	Run       bool       `json:"run"`
	Running   bool       `json:"running"`
	Heartbeat *time.Time `json:"heartbeat,omitempty"`
	PID       int        `json:"pid,omitempty"`
	APIURL    string     `json:"api_url,omitempty"` // a running agent's --listen URL
}

func toJSON(ts []store.Target) []targetJSON {
	out := make([]targetJSON, len(ts))
	for i, t := range ts {
		out[i] = targetJSON{Name: t.Name, Address: t.Address, Stable: t.Stable, Run: t.Run, Running: t.Running, PID: t.PID}
		if t.Running {
			out[i].APIURL = t.APIURL
		}
		if !t.Heartbeat.IsZero() {
			hb := t.Heartbeat.UTC()
			out[i].Heartbeat = &hb
		}
	}
	return out
}

func printTargets(e *env, ts []store.Target, asJSON bool) error {
	if asJSON {
		return writeJSON(e.stdout, toJSON(ts))
	}
	w := table(e.stdout)
	fmt.Fprintln(w, "NAME\tADDRESS\tSTABLE\tRUN")
	for _, t := range ts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.Name, t.Address, yesNo(t.Stable), yesNo(t.Run))
	}
	return w.Flush()
}
