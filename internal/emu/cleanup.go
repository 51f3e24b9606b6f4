package emu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
)

// Cleanup removes the leftovers of runs that ended without Close (crash,
// SIGKILL): named network namespaces (hosts, and the switch with the
// bridges) and, of runs of older versions, links (bridges, veths) in the
// root namespace whose names start with prefix ("" means DefaultPrefix), and
// nothing else: an object must also have the shape of the naming scheme and
// carry the marker of a run whose process is gone (see names.go), so objects
// of other software and of live runs are never touched. It returns what it
// removed, e.g. "netns pmk3x9a--sw", "netns pmk3x9a-a", "bridge pmk3x9a-br",
// and keeps going after errors, which it returns joined.
func Cleanup(ctx context.Context, prefix string, log *slog.Logger) (removed []string, err error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := CheckPrefix(prefix); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var errs []error
	// Links first: deleting a veth's bridge side deletes its namespace side.
	links, err := listLinks()
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		a := l.Attrs()
		o, ok := parseOwner(a.Alias)
		if !strings.HasPrefix(a.Name, prefix) || !ok {
			continue
		}
		kind := l.Type()
		switch {
		case kind == "bridge" && isBridgeName(o.run, a.Name):
		case kind == "veth" && (isVethName(o.run, a.Name) || isTrunkVethName(o.run, a.Name)):
		default:
			continue
		}
		if o.alive() {
			log.Info("skipping link of a live run", "link", a.Name, "pid", o.pid)
			continue
		}
		if err := deleteLink(a.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		log.Info("removed link", "kind", kind, "link", a.Name)
		removed = append(removed, kind+" "+a.Name)
	}
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("list namespaces: %w", err))
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		name := e.Name()
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		o, ok := netnsOwner(netnsPath(name))
		if !ok || !isNetnsName(o.run, name) {
			continue
		}
		if o.alive() {
			log.Info("skipping namespace of a live run", "netns", name, "pid", o.pid)
			continue
		}
		if pids := netnsPids(netnsPath(name)); len(pids) > 0 {
			log.Warn("namespace still has processes: they keep running, without network", "netns", name, "pids", pids)
		}
		if err := deleteNetns(name); err != nil {
			errs = append(errs, err)
			continue
		}
		log.Info("removed namespace", "netns", name)
		removed = append(removed, "netns "+name)
	}
	return removed, errors.Join(errs...)
}

// listLinks lists the links of the root namespace, retrying dumps that
// concurrent changes interrupted.
func listLinks() ([]netlink.Link, error) { return listLinksWith(nil) }

// listLinksWith lists the links of nl's namespace (nil: the root
// namespace), retrying dumps that concurrent changes interrupted.
func listLinksWith(nl *netlink.Handle) ([]netlink.Link, error) {
	list := netlink.LinkList
	if nl != nil {
		list = nl.LinkList
	}
	for try := 0; ; try++ {
		links, err := list()
		if errors.Is(err, netlink.ErrDumpInterrupted) && try < 10 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list links: %w", err)
		}
		return links, nil
	}
}

// netnsOwner reads the marker on the "lo" of the namespace at path.
func netnsOwner(path string) (owner, bool) {
	nl, err := handleIn(path)
	if err != nil {
		return owner{}, false
	}
	defer nl.Close()
	lo, err := nl.LinkByName("lo")
	if err != nil {
		return owner{}, false
	}
	return parseOwner(lo.Attrs().Alias)
}

// netnsPids returns the processes whose network namespace is the one at path.
func netnsPids(path string) []int {
	var want syscall.Stat_t
	if err := syscall.Stat(path, &want); err != nil {
		return nil
	}
	procs, _ := os.ReadDir("/proc")
	var pids []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+p.Name()+"/ns/net", &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
			pids = append(pids, pid)
		}
	}
	return pids
}
