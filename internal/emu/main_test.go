package emu

import (
	"context"
	"fmt"
	"github.com/vishvananda/netlink"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

// envCrashedRun makes the test binary build a network with run prefix
// $EMU_TEST_CRASHED_RUN and exit without Close, like a crashed run.
const envCrashedRun = "EMU_TEST_CRASHED_RUN"

func TestMain(m *testing.M) {
	MaybeReexec()
	if run := os.Getenv(envCrashedRun); run != "" {
		if err := crashedRun(run); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func crashedRun(run string) error {
	ctx := context.Background()
	// One host per bridge: the leftovers include a trunk and its uplinks.
	n, err := New(ctx, Options{Prefix: run, BridgePorts: 2})
	if err != nil {
		return err
	}
	for i, name := range []string{"a", "b"} {
		if _, err := n.AddHost(ctx, name, netip.MustParsePrefix(fmt.Sprintf("10.251.66.%d/24", i+1))); err != nil {
			return err
		}
	}
	// What versions before the switch namespace left: a marked bridge in
	// the root namespace (down, without addresses: it sends nothing).
	old := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridgeName(run, 5)}}
	if err := netlink.LinkAdd(old); err != nil {
		return err
	}
	return netlink.LinkSetAlias(old, n.owner.String()) // no Close
}

// addHosts adds hosts given as "name=prefix,prefix,..." to n.
func addHosts(t *testing.T, n *Network, specs ...string) []*Host {
	t.Helper()
	var hosts []*Host
	for _, s := range specs {
		name, list, _ := strings.Cut(s, "=")
		var addrs []netip.Prefix
		for _, a := range strings.Split(list, ",") {
			addrs = append(addrs, netip.MustParsePrefix(a))
		}
		h, err := n.AddHost(t.Context(), name, addrs...)
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
	}
	return hosts
}

// ping sends one echo request from inside h and waits up to 1 s for the reply.
func ping(ctx context.Context, h *Host, to netip.Addr) error {
	out, err := h.Command(ctx, "ping", "-n", "-c1", "-W1", to.String()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ping %s from %s: %v: %s", to, h.Name(), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// eventually polls cond every 20 ms until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func requirePing(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "ping", "iputils-ping")
}
