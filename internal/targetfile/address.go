package targetfile

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pmonitor/pmonitor/internal/store"
)

// ParseAddress parses a target address and returns its canonical form
// (store.Canonical: "::ffff:127.0.0.2" is "127.0.0.2", zones kept). A
// target must be one host: the unspecified, broadcast and multicast
// addresses are refused.
func ParseAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", fmt.Errorf("invalid address %q", s)
	}
	a = a.Unmap()
	kind := ""
	switch {
	case a.IsUnspecified():
		kind = "unspecified"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		kind = "broadcast"
	case a.IsMulticast():
		kind = "multicast"
	}
	if kind != "" {
		return "", fmt.Errorf("address %q is %s, want a unicast address", a.String(), kind)
	}
	return store.Canonical(a), nil
}

// CheckName reports whether s is usable as a target name: valid UTF-8
// without control characters, since names end up in terminals, JSON and
// Prometheus labels.
func CheckName(s string) error {
	ok := utf8.ValidString(s)
	for _, r := range s {
		if !ok || unicode.IsControl(r) {
			ok = false
			break
		}
	}
	if !ok {
		return fmt.Errorf("invalid name %q (want UTF-8 text without control characters)", s)
	}
	return nil
}
