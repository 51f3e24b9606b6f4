package emu

import (
	"runtime"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

func TestForwardWarning(t *testing.T) {
	ipDrop := forwardChain{family: nftables.TableFamilyIPv4, table: "filter", name: "FORWARD", drop: true}
	ipAccept := forwardChain{family: nftables.TableFamilyIPv4, table: "filter", name: "FORWARD"}
	brDrop := forwardChain{family: nftables.TableFamilyBridge, table: "br", name: "fwd", drop: true}
	inetDrop := forwardChain{family: nftables.TableFamilyINet, table: "fw", name: "forward", drop: true}
	for _, tc := range []struct {
		name   string
		bnf    bridgeNetfilter
		chains []forwardChain
		want   string // "" no warning
	}{
		{"no br_netfilter", bridgeNetfilter{}, []forwardChain{ipDrop}, ""},
		{"br_netfilter, accept", bridgeNetfilter{ip4: true}, []forwardChain{ipAccept}, ""},
		{"br_netfilter, drop", bridgeNetfilter{ip4: true}, []forwardChain{ipAccept, ipDrop}, "(ip filter FORWARD)"},
		{"ip6 only", bridgeNetfilter{ip6: true}, []forwardChain{ipDrop}, ""},
		{"inet", bridgeNetfilter{ip6: true}, []forwardChain{inetDrop}, "(inet fw forward)"},
		{"bridge family", bridgeNetfilter{}, []forwardChain{brDrop}, "(bridge br fwd)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := forwardWarning(tc.bnf, tc.chains)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("forwardWarning = %q, want one containing %q", got, tc.want)
			}
		})
	}
}

// TestForwardChainsRead: a FORWARD chain with policy drop, made inside a
// namespace of this test only, is read and warned about.
func TestForwardChainsRead(t *testing.T) {
	testenv.RequireRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New() // anonymous: gone when closed
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := netns.Set(orig); err != nil {
		t.Fatal(err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		t.Fatal(err)
	}
	tbl := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "filter"})
	drop := nftables.ChainPolicyDrop
	c.AddChain(&nftables.Chain{Name: "FORWARD", Table: tbl, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	chains, err := forwardChains(c)
	if err != nil {
		t.Fatal(err)
	}
	if w := forwardWarning(bridgeNetfilter{ip4: true}, chains); !strings.Contains(w, "(ip filter FORWARD)") {
		t.Errorf("chains %+v: warning %q", chains, w)
	}
}
