package main

import (
	"os/exec"
	"path/filepath"
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

// TestEmulationBuildLeavesOutEtcd: -tags pmonitor_omit_etcd builds a
// pmonitor without the etcd client (and gRPC), whose registrations cost
// each agent 0.7 MB of heap, and that binary says so when asked for an
// etcd registry.
func TestEmulationBuildLeavesOutEtcd(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go tool on PATH")
	}
	const tags = "pmonitor_omit_etcd"
	out, err := exec.Command(goTool, "list", "-deps", "-tags", tags, ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "go.etcd.io/") || strings.HasPrefix(p, "google.golang.org/grpc") {
			t.Fatalf("-tags %s still links %s", tags, p)
		}
	}
	bin := filepath.Join(t.TempDir(), "pmonitor")
	if out, err := exec.Command(goTool, "build", "-tags", tags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags %s: %v\n%s", tags, err, out)
	}
	out, err = exec.Command(bin, "stop", "etcd://127.0.0.1:1/pmonitor", "127.0.0.1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "built without etcd support") {
		t.Errorf("stop on an etcd registry: %v\n%s\nwant a failure that says the build has no etcd support", err, out)
	}
}
