package lab

import (
	"fmt"
	"math/big"
	"net/netip"
)

// HostAddr returns the i-th host address of subnet (i = 1, 2, ...), with
// subnet's prefix length: 10.79.0.0/16 gives 10.79.0.1/16 for 1, 10.79.1.0/16
// for 256 and 10.79.3.232/16 for 1,000. The subnet's own address (i = 0)
// is never given, nor an IPv4 subnet's broadcast address; i past them is an
// error.
func HostAddr(subnet netip.Prefix, i int) (netip.Prefix, error) {
	if !subnet.IsValid() || subnet.Addr().Is4In6() || subnet.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("lab: invalid subnet %q", subnet)
	}
	subnet = subnet.Masked()
	hostBits := subnet.Addr().BitLen() - subnet.Bits()
	last := new(big.Int).Lsh(big.NewInt(1), uint(hostBits)) // offsets below this are in the subnet
	last.Sub(last, big.NewInt(1))
	if subnet.Addr().Is4() {
		last.Sub(last, big.NewInt(1)) // the broadcast address
	}
	if last.Sign() <= 0 {
		return netip.Prefix{}, fmt.Errorf("lab: subnet %s has no host addresses", subnet)
	}
	off := big.NewInt(int64(i))
	if i < 1 || off.Cmp(last) > 0 {
		return netip.Prefix{}, fmt.Errorf("lab: host %d of %s: want 1 to %s", i, subnet, last)
	}
	base := subnet.Addr().AsSlice()
	sum := new(big.Int).Add(new(big.Int).SetBytes(base), off).FillBytes(make([]byte, len(base)))
	a, _ := netip.AddrFromSlice(sum)
	return netip.PrefixFrom(a, subnet.Bits()), nil
}

// MeshNodes returns n nodes named "n1" to "nN" with the first n host
// addresses of subnet (HostAddr), all stable, each running an agent: the
// full mesh that the scale tests and tools/benchmesh build.
func MeshNodes(subnet netip.Prefix, n int) ([]Node, error) {
	nodes := make([]Node, 0, max(n, 0))
	for i := 1; i <= n; i++ {
		a, err := HostAddr(subnet, i)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, Node{Name: fmt.Sprintf("n%d", i), Addr: a, Stable: true, Agent: true})
	}
	return nodes, nil
}
