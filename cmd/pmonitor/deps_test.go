package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoTestingInTheBinary: package testing (and its flags) must not reach
// the shipped binary through a test helper in a non-test file.
func TestNoTestingInTheBinary(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go tool on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "testing" {
			t.Fatal("cmd/pmonitor depends on package testing: move the test helper that imports it into a _test.go file")
		}
	}
}
