package emu

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestCleanupRemovesCrashedRun(t *testing.T) {
	t.Parallel()
	n := newForTest(t, Options{}) // a live run: Cleanup must spare it
	addHosts(t, n, "a=10.251.33.1/24")

	run := randomPrefix()
	t.Cleanup(func() { _, _ = Cleanup(context.Background(), run, nil) })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), exe)
	cmd.Env = append(os.Environ(), envCrashedRun+"="+run)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("crashed run: %v: %s", err, out)
	}
	left := []string{
		"bridge " + run + "-br", "bridge " + run + "-br2", "bridge " + run + "-br5", "bridge " + run + "-tr",
		"netns " + run + "--sw", "netns " + run + "-a", "netns " + run + "-b",
		"veth " + run + "-t1", "veth " + run + "-t2", "veth " + run + "-u1", "veth " + run + "-u2",
		"veth " + run + "-v1", "veth " + run + "-v2",
	}
	if got := leftovers(t, run); !slices.Equal(got, left) {
		t.Fatalf("crashed run left %v, want %v", got, left)
	}
	// The namespaces take the switch's links with them; the root bridge
	// is an older version's leftover.
	want := []string{"bridge " + run + "-br5", "netns " + run + "--sw", "netns " + run + "-a", "netns " + run + "-b"}

	// Links that look like ours but carry no marker are not ours. (Down,
	// without addresses: they send nothing.)
	impostor := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: run + "-v9"}, PeerName: run + "-v8"}
	if err := netlink.LinkAdd(impostor); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteLink(impostor.Name) })

	removed, err := Cleanup(t.Context(), run, nil)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if !slices.Equal(removed, want) {
		t.Errorf("Cleanup removed %v, want %v", removed, want)
	}
	if got := leftovers(t, run); !slices.Equal(got, []string{"veth " + run + "-v8", "veth " + run + "-v9"}) {
		t.Errorf("after Cleanup: %v left, want only the unmarked veths", got)
	}
	if removed, err := Cleanup(t.Context(), run, nil); err != nil || len(removed) != 0 {
		t.Errorf("second Cleanup = %v, %v; want nothing", removed, err)
	}

	if removed, err := Cleanup(t.Context(), n.Prefix(), nil); err != nil || len(removed) != 0 {
		t.Errorf("Cleanup of a live run = %v, %v; want nothing", removed, err)
	}
	if got := leftovers(t, n.Prefix()); len(got) != 4 {
		t.Errorf("live run after Cleanup: %v, want bridge, veth and two namespaces", got)
	}
}
