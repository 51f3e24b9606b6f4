package etcdtest_test

import (
	"net"
	"net/netip"
)

type netipNet = net.IPNet

func toIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
