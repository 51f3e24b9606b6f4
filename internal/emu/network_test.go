package emu

import (
	"bufio"
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The topology of the original pmonitor test: several subnets on one segment.
var meshHosts = []string{
	"a=10.251.33.1/24",
	"b=10.251.44.2/24",
	"c=10.251.55.2/24,10.251.55.3/24",
}

func TestMeshReachability(t *testing.T) {
	t.Parallel()
	requirePing(t)
	n := newForTest(t, Options{})
	hosts := addHosts(t, n, meshHosts...)
	for _, from := range hosts {
		for _, to := range hosts {
			if to == from {
				continue
			}
			for _, p := range to.Addrs() {
				t.Run(from.Name()+"->"+p.Addr().String(), func(t *testing.T) {
					if err := ping(t.Context(), from, p.Addr()); err != nil {
						t.Error(err)
					}
				})
			}
		}
	}

	// Neither the root namespace nor the switch is a member of the segment.
	checkRootOffSegment(t, n.Prefix())
	inSwitch(t, n, func() {
		br, err := netlink.LinkByName(n.Bridge())
		if err != nil {
			t.Error(err)
			return
		}
		if addrs, err := netlink.AddrList(br, netlink.FAMILY_ALL); err != nil || len(addrs) != 0 {
			t.Errorf("bridge %s addresses = %v, %v; want none", n.Bridge(), addrs, err)
		}
		for _, h := range hosts {
			port, err := netlink.LinkByName(h.BridgePort())
			if err != nil || port.Attrs().MasterIndex != br.Attrs().Index {
				t.Errorf("host %s: bridge port %s: %v, not attached to %s", h.Name(), h.BridgePort(), err, n.Bridge())
			}
		}
		// br_netfilter, when loaded, is off here: the bridged frames
		// cross no IP hook, the machine's firewall least of all.
		for _, key := range []string{"bridge-nf-call-iptables", "bridge-nf-call-ip6tables", "bridge-nf-call-arptables"} {
			if b, err := os.ReadFile("/proc/sys/net/bridge/" + key); err == nil && strings.TrimSpace(string(b)) != "0" {
				t.Errorf("switch: %s = %s, want 0", key, strings.TrimSpace(string(b)))
			}
		}
	})
}

func TestHostNamespaceSettings(t *testing.T) {
	t.Parallel()
	n := newForTest(t, Options{})
	h := addHosts(t, n, "a=10.251.33.1/24")[0]
	err := h.Do(func() error {
		// As root too, an ICMP datagram socket needs ping_group_range.
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP)
		if err != nil {
			return err
		}
		unix.Close(fd)
		b, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
		if err != nil {
			return err
		}
		if got := strings.Join(strings.Fields(string(b)), " "); got != pingGroupRange {
			t.Errorf("ping_group_range = %q, want %q", got, pingGroupRange)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCommandRunsInNamespace(t *testing.T) {
	t.Parallel()
	n := newForTest(t, Options{})
	h := addHosts(t, n, "a=10.251.33.1/24")[0]
	var st syscall.Stat_t
	if err := syscall.Stat(h.NetnsPath(), &st); err != nil {
		t.Fatal(err)
	}
	out, err := h.Command(t.Context(), "sh", "-c", `readlink /proc/self/ns/net; echo "${`+envNetns+`-unset}"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "net:[" + strconv.FormatUint(st.Ino, 10) + "]\nunset\n"
	if string(out) != want {
		t.Errorf("output in %s = %q, want %q", h.NetnsName(), out, want)
	}
	self, _ := os.Readlink("/proc/self/ns/net")
	if strings.HasPrefix(string(out), self+"\n") {
		t.Errorf("command ran in the test's own namespace %s", self)
	}

	err = h.Command(t.Context(), "sh", "-c", "exit 3").Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("exit status: got %v, want 3", err)
	}
	if err := h.Command(t.Context(), "/nonexistent/prog").Run(); err == nil {
		t.Errorf("missing program: no error")
	}
}

func TestAddHostErrors(t *testing.T) {
	t.Parallel()
	n := newForTest(t, Options{})
	addHosts(t, n, "a=10.251.33.1/24")
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name    string
		addrs   []netip.Prefix
		wantErr string
	}{
		{"a", []netip.Prefix{p("10.251.33.9/24")}, "host a: name already used"},
		{"b", []netip.Prefix{p("10.251.33.1/16")}, "host b: address 10.251.33.1 already on host a"},
		{"b", []netip.Prefix{p("10.251.33.2/24"), p("10.251.33.2/32")}, "host b: duplicate address 10.251.33.2"},
		{"b", []netip.Prefix{{}}, `host b: invalid address "invalid Prefix"`},
		{"b", []netip.Prefix{p("::ffff:10.251.33.2/120")}, `host b: invalid address "::ffff:10.251.33.2/120"`},
		{"a/b", nil, `invalid host name "a/b": want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`},
		{"-a", nil, `invalid host name "-a": want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`},
	} {
		if _, err := n.AddHost(t.Context(), tc.name, tc.addrs...); errText(err) != tc.wantErr {
			t.Errorf("AddHost(%q, %v) = %v, want %q", tc.name, tc.addrs, err, tc.wantErr)
		}
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := n.AddHost(canceled, "b", p("10.251.44.2/24")); !errors.Is(err, context.Canceled) {
		t.Errorf("AddHost with canceled context = %v, want context.Canceled", err)
	}
	if got := leftovers(t, n.Prefix()); len(got) != 4 {
		t.Errorf("after failed AddHost calls: %v, want only the switch, its bridge, and veth and netns of a", got)
	}
	if got := len(n.Hosts()); got != 1 {
		t.Errorf("%d hosts after failed AddHost calls, want 1", got)
	}
	if n.Host("a") == nil || n.Host("b") != nil {
		t.Errorf("Host lookup wrong: a=%v b=%v", n.Host("a"), n.Host("b"))
	}
}

func TestCloseRemovesEverything(t *testing.T) {
	t.Parallel()
	n := newForTest(t, Options{})
	hosts := addHosts(t, n, "a=10.251.33.1/24", "b=10.251.44.2/24")
	if err := hosts[0].Drop(t.Context(), Both); err != nil {
		t.Fatal(err)
	}
	if got := leftovers(t, n.Prefix()); len(got) != 6 {
		t.Fatalf("before Close: %v, want bridge, 2 veths, 3 namespaces (the switch's too)", got)
	}
	// A process inside keeps b's namespace alive: Close must delete its veth
	// itself, and leave the process alone.
	sleeper := hosts[1].Command(t.Context(), "sh", "-c", "echo ready; exec sleep 60")
	stdout, err := sleeper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatalf("process in namespace: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if got := leftovers(t, n.Prefix()); len(got) != 0 {
		t.Errorf("after Close: %v left", got)
	}
	if err := sleeper.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("process in a namespace did not survive Close: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := n.AddHost(t.Context(), "c"); !errors.Is(err, ErrClosed) {
		t.Errorf("AddHost after Close = %v, want ErrClosed", err)
	}
	if err := hosts[0].SetLink(t.Context(), false); !errors.Is(err, ErrClosed) {
		t.Errorf("SetLink after Close = %v, want ErrClosed", err)
	}
}

// leftovers lists the links (of the root namespace and of the switch) and
// namespaces whose names start with prefix+"-".
func leftovers(t *testing.T, prefix string) []string {
	t.Helper()
	var got []string
	links, err := listLinks()
	if err != nil {
		t.Fatal(err)
	}
	if sw, err := handleIn(netnsPath(switchNetns(prefix))); err == nil {
		more, err := listLinksWith(sw)
		sw.Close()
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, more...)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, prefix+"-") {
			got = append(got, l.Type()+" "+l.Attrs().Name)
		}
	}
	entries, _ := os.ReadDir(netnsDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix+"-") {
			got = append(got, "netns "+e.Name())
		}
	}
	slices.Sort(got)
	return got
}

// TestNetnsDirShared: our namespaces are mounted in a shared mount point, so
// a later 'ip netns add' (which bind-mounts /run/netns over itself when it
// is not one) cannot hide them from Close.
func TestNetnsDirShared(t *testing.T) {
	n := newForTest(t, Options{})
	if _, err := n.AddHost(context.Background(), "a", netip.MustParsePrefix("10.251.70.1/24")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 6 && f[4] == netnsDir {
			if !strings.Contains(line, " shared:") {
				t.Errorf("%s is a mount point without shared propagation: %s", netnsDir, line)
			}
			return
		}
	}
	t.Errorf("%s is not a mount point", netnsDir)
}
