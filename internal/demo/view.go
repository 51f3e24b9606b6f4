package demo

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pmonitor/pmonitor/internal/report"
)

// ANSI escape codes of the terminal view.
const (
	ansiHome      = "\x1b[H"  // cursor to the top left
	ansiClear     = "\x1b[2J" // clear the screen
	ansiClearLine = "\x1b[K"  // clear to the end of the line
	ansiClearDown = "\x1b[J"  // clear to the end of the screen
	ansiRed       = "\x1b[31m"
	ansiGreen     = "\x1b[32m"
	ansiBold      = "\x1b[1m"
	ansiDefault   = "\x1b[39m" // default color: as long as ansiRed and ansiGreen
	ansiReset     = "\x1b[0m"
)

// renderFrame draws the full-screen view of s on a terminal: the frame is
// written over the previous one (home, then clear each line's rest and the
// screen below), which does not flicker. first clears the screen once.
func renderFrame(w io.Writer, s Snapshot, first bool) error {
	var b bytes.Buffer
	if first {
		b.WriteString(ansiClear)
	}
	b.WriteString(ansiHome)
	writeView(&b, s, true)
	text := strings.ReplaceAll(b.String(), "\n", ansiClearLine+"\n") + ansiClearDown
	_, err := io.WriteString(w, text)
	return err
}

// writeView writes the view of s; color adds ANSI colors.
func writeView(w io.Writer, s Snapshot, color bool) {
	paint := func(code, text string) string {
		if !color {
			return text
		}
		return code + text + ansiReset
	}
	stable, dynamic := 0, 0
	for _, n := range s.Nodes {
		if n.Stable {
			stable++
		} else {
			dynamic++
		}
	}
	fmt.Fprintf(w, "%s  %d nodes (%d stable, %d dynamic)  interval %s  timeout %s  seed %d  running %s\n",
		paint(ansiBold, "pmonitor demo"), len(s.Nodes), stable, dynamic, s.Interval, s.Timeout, s.Seed,
		s.Time.Sub(s.Started).Round(time.Second))
	if s.URL != "" {
		// The TTY view redraws the screen: the URL printed at start is gone.
		fmt.Fprintf(w, "dashboard %s  ", paint(ansiBold, s.URL))
	}
	fmt.Fprintf(w, "run folder %s  network %s  Ctrl-C stops, consolidates and cleans up\n\n", s.RunDir, s.Network)
	fmt.Fprintf(w, "pairs answering  stable %s  dynamic %s   agents running %d/%d   link cuts %d\n\n",
		pairText(s.Stable), pairText(s.Dynamic), s.Running, len(s.Nodes), s.Cuts)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// Colored LINK cells carry 9 bytes of escape codes that tabwriter
	// counts as width; the header carries as many so the columns align.
	fmt.Fprintf(tw, "NODE\tADDRESS\tKIND\t%s\tSEEN BY\tOWN STATUS\tNEXT LINK CHANGE\n", paint(ansiDefault, "LINK"))
	for _, n := range s.Nodes {
		kind, link := "stable", paint(ansiGreen, "up  ")
		if !n.Stable {
			kind = "dynamic"
		}
		if !n.LinkUp {
			link = paint(ansiRed, "DOWN")
		}
		own := fmt.Sprintf("%d / %d", n.Agent.Status.Good, n.Agent.Status.Total)
		if !n.Agent.Running {
			own = "exited"
		}
		next := "-"
		if !n.NextChange.IsZero() {
			verb := "down"
			if !n.LinkUp {
				verb = "up"
			}
			next = fmt.Sprintf("%s in %s", verb, max(0, n.NextChange.Sub(s.Time)).Round(time.Second))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", n.Name, n.Address, kind, link,
			n.SeenBy.Good, n.SeenBy.Total, own, next)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nRECENT EVENTS (from the agents' working databases; first answers not shown)\n")
	if len(s.Events) == 0 {
		fmt.Fprintln(w, "none yet")
	}
	for _, g := range s.Events {
		word := paint(ansiRed, "down")
		if g.Up {
			word = paint(ansiGreen, "up  ")
		}
		fmt.Fprintf(w, "%s  %-8s %s  %s\n", g.Time.Format("15:04:05"), g.Node, word, g.Text())
	}
}

// pairText renders a pair count as "good/total".
func pairText(c report.Count) string { return fmt.Sprintf("%d/%d", c.Good, c.Total) }

// renderLine writes the one-line summary of s used when stdout is not a
// terminal.
func renderLine(w io.Writer, s Snapshot) error {
	var down []string
	for _, n := range s.Nodes {
		if !n.LinkUp {
			down = append(down, n.Name)
		}
	}
	links := "all links up"
	if len(down) > 0 {
		links = "down: " + strings.Join(down, ",")
	}
	last := ""
	if len(s.Events) > 0 {
		g := s.Events[0]
		state := "down"
		if g.Up {
			state = "up"
		}
		last = fmt.Sprintf("  last: %s %s %s %s", g.Time.Format("15:04:05"), g.Node, state, g.Text())
	}
	_, err := fmt.Fprintf(w, "%s +%s  stable %s  dynamic %s  agents %d/%d  %s  cuts %d%s\n",
		s.Time.Format("15:04:05"), s.Time.Sub(s.Started).Round(time.Second),
		pairText(s.Stable), pairText(s.Dynamic), s.Running, len(s.Nodes), links, s.Cuts, last)
	return err
}
