// Package testenv gates tests on what the machine offers (root, Debian
// packages) and holds the small helpers several test packages share. Every
// skip says how to enable the test; CI (.ci/run) installs everything and
// runs as root, so nothing skips there.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireRoot skips t unless the process runs as root (network namespaces,
// raw sockets and nftables need it).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (namespaces, raw sockets, nftables): run 'sudo make test' or '.ci/run'")
	}
}

// RequireCommand skips t unless the program name is on PATH; pkg names the
// Debian package that provides it.
func RequireCommand(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("needs %s: run 'apt-get install %s' (CI installs it)", name, pkg)
	}
	return path
}

// Short skips t in 'go test -short' runs; heavy tests (many namespaces,
// long runs) use it.
func Short(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("skipped in -short mode: %s", why)
	}
}

// HeavyEnv is the environment variable that turns heavy tests on.
const HeavyEnv = "PMONITOR_HEAVY_TESTS"

// Heavy skips t unless heavy tests are turned on. Heavy tests (hundreds of
// agents, meshes of emulated hosts) are too slow under the race detector, so
// 'make test' runs them in a second pass without it.
func Heavy(t testing.TB) {
	t.Helper()
	if os.Getenv(HeavyEnv) == "" {
		t.Skipf("heavy test: set %s=1 to run it ('make test' does, without -race)", HeavyEnv)
	}
}
