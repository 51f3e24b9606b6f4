package cli

import (
	"os"
	"testing"

	"github.com/pmonitor/pmonitor/internal/emu"
)

// envAsPmonitor makes the test binary behave as pmonitor. TestMain sets it
// for the tests' children: the labs of 'pmonitor test' and 'pmonitor demo'
// run this binary (os.Executable) inside their namespaces as agents.
const envAsPmonitor = "PMONITOR_CLI_TEST_AS_PMONITOR"

func TestMain(m *testing.M) {
	emu.MaybeReexec()
	if os.Getenv(envAsPmonitor) != "" {
		os.Exit(Main())
	}
	os.Setenv(envAsPmonitor, "1")
	os.Exit(m.Run())
}
