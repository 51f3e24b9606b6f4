package emu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
)

func TestCheckPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix  string
		wantErr string
	}{
		{"pm", ""},
		{"pmk3x9a", ""},
		{"pm123456", ""},
		{"pm1234567", `invalid prefix "pm1234567": want "pm" followed by at most 6 lowercase letters or digits`},
		{"px", `invalid prefix "px": want "pm" followed by at most 6 lowercase letters or digits`},
		{"pm-a", `invalid prefix "pm-a": want "pm" followed by at most 6 lowercase letters or digits`},
		{"pmA", `invalid prefix "pmA": want "pm" followed by at most 6 lowercase letters or digits`},
		{"", `invalid prefix "": want "pm" followed by at most 6 lowercase letters or digits`},
	} {
		err := CheckPrefix(tc.prefix)
		if got := errText(err); got != tc.wantErr {
			t.Errorf("CheckPrefix(%q) = %q, want %q", tc.prefix, got, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalidPrefix) {
			t.Errorf("CheckPrefix(%q) does not wrap ErrInvalidPrefix", tc.prefix)
		}
	}
}

func TestNewRejectsBadPrefixWithoutSideEffects(t *testing.T) {
	// Validation happens before anything is created: no root needed.
	if _, err := New(context.Background(), Options{Prefix: "bad"}); !errors.Is(err, ErrInvalidPrefix) {
		t.Fatalf("New(bad prefix) = %v, want ErrInvalidPrefix", err)
	}
	if _, err := Cleanup(context.Background(), "nope", nil); !errors.Is(err, ErrInvalidPrefix) {
		t.Fatalf("Cleanup(bad prefix) = %v, want ErrInvalidPrefix", err)
	}
	for _, ports := range []int{-1, 1, MaxBridgePorts + 1} {
		want := fmt.Sprintf("bridge ports %d: want 2 to 1023", ports)
		if _, err := New(context.Background(), Options{BridgePorts: ports}); errText(err) != want {
			t.Errorf("New(BridgePorts %d) = %v, want %q", ports, err, want)
		}
	}
}

func TestNamesFitInterfaceNames(t *testing.T) {
	longest := "pm123456"
	for _, name := range []string{bridgeName(longest, MaxBridgePorts), trunkName(longest), uplinkName(longest, MaxBridgePorts), trunkPortName(longest, MaxBridgePorts), vethName(longest, 99999)} {
		if len(name) > ifNameMax {
			t.Errorf("%q: %d bytes, want <= %d", name, len(name), ifNameMax)
		}
	}
	for i := 0; i < 100; i++ {
		if p := randomPrefix(); CheckPrefix(p) != nil || len(p) != 7 {
			t.Fatalf("randomPrefix() = %q: invalid", p)
		}
	}
}

func TestNameShapes(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		veth, trunk, bridge, nets bool
	}{
		{"pmab-v1", true, false, false, true},
		{"pmab-v12345", true, false, false, true},
		{"pmab-vx", false, false, false, true},
		{"pmab-v0", false, false, false, true},
		{"pmab-v01", false, false, false, true},
		{"pmab-v-1", false, false, false, true},
		{"pmab-br", false, false, true, true},
		{"pmab-br2", false, false, true, true},
		{"pmab-br1", false, false, false, true}, // the first bridge is pmab-br
		{"pmab-brx", false, false, false, true},
		{"pmab-tr", false, false, true, true},
		{"pmab-u1", false, true, false, true},
		{"pmab-t17", false, true, false, true},
		{"pmab-u", false, false, false, true},
		{"pmabc-v1", false, false, false, false}, // another run
		{"pmabc-br", false, false, false, false},
		{"pmab-", false, false, false, false},
		{"pmab-a.b_c", false, false, false, true},
		{"pmab-/x", false, false, false, false},
		{"eth0", false, false, false, false},
	} {
		if got := isVethName("pmab", tc.name); got != tc.veth {
			t.Errorf("isVethName(pmab, %q) = %t, want %t", tc.name, got, tc.veth)
		}
		if got := isTrunkVethName("pmab", tc.name); got != tc.trunk {
			t.Errorf("isTrunkVethName(pmab, %q) = %t, want %t", tc.name, got, tc.trunk)
		}
		if got := isBridgeName("pmab", tc.name); got != tc.bridge {
			t.Errorf("isBridgeName(pmab, %q) = %t, want %t", tc.name, got, tc.bridge)
		}
		if got := isNetnsName("pmab", tc.name); got != tc.nets {
			t.Errorf("isNetnsName(pmab, %q) = %t, want %t", tc.name, got, tc.nets)
		}
	}
	for k, want := range map[int]string{1: "pmab-br", 2: "pmab-br2", 10: "pmab-br10"} {
		if got := bridgeName("pmab", k); got != want {
			t.Errorf("bridgeName(pmab, %d) = %q, want %q", k, got, want)
		}
	}
}

func TestOwnerMarker(t *testing.T) {
	self, err := currentOwner("pmtest")
	if err != nil {
		t.Fatal(err)
	}
	if !self.alive() {
		t.Errorf("own process %v not alive", self)
	}
	withHost := self.forHost("a")
	for _, o := range []owner{self, withHost} {
		got, ok := parseOwner(o.String())
		if !ok || got != o {
			t.Errorf("parseOwner(%q) = %v, %t; want %v", o.String(), got, ok, o)
		}
	}
	reused := self
	reused.start++ // same pid, other process: not the owner
	if reused.alive() {
		t.Errorf("owner with other start time counted as alive")
	}
	gone := owner{run: "pmx", pid: os.Getpid(), start: 1}
	if gone.alive() {
		t.Errorf("owner %v counted as alive", gone)
	}
	for _, s := range []string{
		"", "something else", "pmonitor-emu run=pmx", "pmonitor-emu run=xx pid=1 start=2",
		"pmonitor-emu run=pmx pid=abc start=2", "pmonitor-emu run=pmx pid=0 start=2",
	} {
		if o, ok := parseOwner(s); ok {
			t.Errorf("parseOwner(%q) = %v, want not a marker", s, o)
		}
	}
}

func TestDirectionString(t *testing.T) {
	for d, want := range map[Direction]string{Ingress: "ingress", Egress: "egress", Both: "both", 0: "Direction(0)"} {
		if got := d.String(); got != want {
			t.Errorf("Direction(%d).String() = %q, want %q", int(d), got, want)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
