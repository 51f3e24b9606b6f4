package emu

import (
	"fmt"
	"os"
	"strings"

	"github.com/google/nftables"
)

// Emulated hosts talk through a bridge in the root namespace. With the
// br_netfilter module loaded and bridge-nf-call-iptables set, bridged IPv4
// frames also traverse the root namespace's IP FORWARD hook (ip6tables
// likewise for IPv6), so a FORWARD policy of drop there (Docker sets one)
// silently drops every packet between emulated hosts: each mesh would then
// fail as a whole, with nothing pointing at the cause. A bridge-family
// forward chain with a drop policy drops bridged frames with or without
// br_netfilter. New warns in both cases. Rules of iptables-legacy are not
// visible through nftables and are not checked.

// forwardChain is what the check needs to know of one base chain.
type forwardChain struct {
	family nftables.TableFamily
	table  string
	name   string
	drop   bool // policy drop
}

// bridgeNetfilter is the state of br_netfilter: whether bridged IPv4 and
// IPv6 frames are passed to the IP hooks.
type bridgeNetfilter struct {
	ip4, ip6 bool
}

// forwardWarning returns why bridged traffic would be dropped, "" if it
// would not.
func forwardWarning(bnf bridgeNetfilter, chains []forwardChain) string {
	var hits []string
	for _, c := range chains {
		if !c.drop {
			continue
		}
		applies := false
		switch c.family {
		case nftables.TableFamilyBridge:
			applies = true
		case nftables.TableFamilyIPv4:
			applies = bnf.ip4
		case nftables.TableFamilyIPv6:
			applies = bnf.ip6
		case nftables.TableFamilyINet:
			applies = bnf.ip4 || bnf.ip6
		}
		if applies {
			hits = append(hits, fmt.Sprintf("%s %s %s", familyName(c.family), c.table, c.name))
		}
	}
	if len(hits) == 0 {
		return ""
	}
	return fmt.Sprintf("forward chain with policy drop (%s) will drop the traffic between emulated hosts "+
		"(br_netfilter passes bridged frames to it); allow the bridge, e.g. 'nft insert rule <family> <table> <chain> "+
		"iifname \"pm*\" accept', or 'sysctl net.bridge.bridge-nf-call-iptables=0'", strings.Join(hits, ", "))
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyBridge:
		return "bridge"
	}
	return fmt.Sprintf("family %d", f)
}

// readBridgeNetfilter reads br_netfilter's switches; without the module the
// files do not exist and nothing is passed.
func readBridgeNetfilter() bridgeNetfilter {
	on := func(name string) bool {
		b, err := os.ReadFile("/proc/sys/net/bridge/" + name)
		return err == nil && strings.TrimSpace(string(b)) == "1"
	}
	return bridgeNetfilter{ip4: on("bridge-nf-call-iptables"), ip6: on("bridge-nf-call-ip6tables")}
}

// forwardChains lists the filter base chains on the forward hook that c sees.
func forwardChains(c *nftables.Conn) ([]forwardChain, error) {
	chains, err := c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("list nftables chains: %w", err)
	}
	var out []forwardChain
	for _, ch := range chains {
		if ch.Hooknum == nil || *ch.Hooknum != *nftables.ChainHookForward || ch.Table == nil {
			continue
		}
		out = append(out, forwardChain{
			family: ch.Table.Family, table: ch.Table.Name, name: ch.Name,
			drop: ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop,
		})
	}
	return out, nil
}

// checkForward returns a warning when the root namespace would drop
// bridged emulation traffic, "" otherwise (also when it cannot tell).
func checkForward() string {
	bnf := readBridgeNetfilter()
	c, err := nftables.New()
	if err != nil {
		return ""
	}
	chains, err := forwardChains(c)
	if err != nil {
		return ""
	}
	return forwardWarning(bnf, chains)
}
