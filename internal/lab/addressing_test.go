package lab_test

import (
	"net/netip"
	"testing"

	"github.com/pmonitor/pmonitor/internal/lab"
)

func TestHostAddr(t *testing.T) {
	for _, tc := range []struct {
		subnet  string
		i       int
		want    string
		wantErr string
	}{
		{"10.79.0.0/16", 1, "10.79.0.1/16", ""},
		{"10.79.0.0/16", 255, "10.79.0.255/16", ""},
		{"10.79.0.0/16", 256, "10.79.1.0/16", ""},
		{"10.79.0.0/16", 1000, "10.79.3.232/16", ""},
		{"10.79.0.0/16", 65534, "10.79.255.254/16", ""},
		{"10.79.0.0/16", 65535, "", "lab: host 65535 of 10.79.0.0/16: want 1 to 65534"},
		{"10.79.5.9/16", 2, "10.79.0.2/16", ""}, // host bits of the subnet are ignored
		{"10.80.0.0/24", 254, "10.80.0.254/24", ""},
		{"10.80.0.0/24", 255, "", "lab: host 255 of 10.80.0.0/24: want 1 to 254"},
		{"10.80.0.0/24", 0, "", "lab: host 0 of 10.80.0.0/24: want 1 to 254"},
		{"10.80.0.0/24", -3, "", "lab: host -3 of 10.80.0.0/24: want 1 to 254"},
		{"10.80.0.4/31", 1, "", "lab: subnet 10.80.0.4/31 has no host addresses"},
		{"10.255.255.0/24", 254, "10.255.255.254/24", ""},
		{"fd00:79::/64", 1000, "fd00:79::3e8/64", ""},
		{"fd00:79::/120", 255, "fd00:79::ff/120", ""}, // IPv6 has no broadcast
		{"fd00:79::/120", 256, "", "lab: host 256 of fd00:79::/120: want 1 to 255"},
		{"fd00::/8", 1 << 40, "fd00::100:0:0/8", ""},
		{"::ffff:10.0.0.0/104", 1, "", `lab: invalid subnet "::ffff:10.0.0.0/104"`},
	} {
		got, err := lab.HostAddr(netip.MustParsePrefix(tc.subnet), tc.i)
		if errText(err) != tc.wantErr || (err == nil && got.String() != tc.want) {
			t.Errorf("HostAddr(%s, %d) = %v, %v; want %s, %q", tc.subnet, tc.i, got, err, tc.want, tc.wantErr)
		}
	}
	if _, err := lab.HostAddr(netip.Prefix{}, 1); errText(err) != `lab: invalid subnet "invalid Prefix"` {
		t.Errorf("HostAddr(invalid) = %v", err)
	}
}

func TestMeshNodes(t *testing.T) {
	nodes, err := lab.MeshNodes(netip.MustParsePrefix("10.79.0.0/16"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]bool{}
	for i, n := range nodes {
		if seen[n.Addr.Addr()] || !n.Stable || !n.Agent || n.Addr.Bits() != 16 {
			t.Errorf("node %d = %+v: duplicate or not a stable agent in the /16", i, n)
		}
		seen[n.Addr.Addr()] = true
	}
	if len(nodes) != 1000 || nodes[0].Name != "n1" || nodes[999].Name != "n1000" || nodes[999].Addr.String() != "10.79.3.232/16" {
		t.Errorf("MeshNodes: %d nodes, first %+v, last %+v", len(nodes), nodes[0], nodes[len(nodes)-1])
	}
	if _, err := lab.MeshNodes(netip.MustParsePrefix("10.80.0.0/24"), 300); errText(err) != "lab: host 255 of 10.80.0.0/24: want 1 to 254" {
		t.Errorf("300 nodes in a /24: %v", err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
