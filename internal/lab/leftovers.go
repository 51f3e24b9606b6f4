package lab

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// Leftovers lists what of a lab with run prefix (Lab.Prefix) still exists
// in the kernel: named namespaces ("netns P-a") and links of the root
// namespace ("link P-br"). After Close it must be empty; tests and
// 'pmonitor test' check it.
func Leftovers(prefix string) ([]string, error) {
	if prefix == "" {
		return nil, errors.New("lab: leftovers: empty prefix")
	}
	var left []string
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab: list namespaces: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix+"-") {
			left = append(left, "netns "+e.Name())
		}
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return left, fmt.Errorf("lab: list links: %w", err)
	}
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, prefix+"-") {
			left = append(left, "link "+i.Name)
		}
	}
	return left, nil
}
