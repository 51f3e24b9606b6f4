package emu

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Naming scheme. Every object a Network creates carries its run prefix P,
// which is "pm" followed by at most 6 lowercase letters or digits (default:
// "pm" + 5 random characters, e.g. "pmk3x9a"):
//
//	switch namespace                   P--sw      holds the bridges and bridge-side veths (switch.go)
//	first bridge (switch)              P-br       e.g. pmk3x9a-br
//	further bridges (switch)           P-br<K>    e.g. pmk3x9a-br2 (K = bridge number, 2..)
//	trunk bridge (switch)              P-tr       joins the bridges, once there are several
//	uplink veth, bridge K side         P-u<K>     e.g. pmk3x9a-u2
//	uplink veth, trunk side            P-t<K>     e.g. pmk3x9a-t2
//	veth, bridge side (switch)         P-v<N>     e.g. pmk3x9a-v12 (N = host number, 1..)
//	veth, host side (host namespace)   eth0
//	host namespace                     P-<host>   e.g. pmk3x9a-a, /var/run/netns/pmk3x9a-a
//
// Links live in the switch namespace, so the root namespace holds none;
// versions before the switch put them in the root namespace, and Cleanup
// still removes such leftovers.
//
// Interface names are limited to 15 bytes (IFNAMSIZ-1): with |P| <= 8 a veth
// name has room for 99999 hosts (and bridges). Names alone could still
// collide with an unrelated "pm..." namespace, so every namespace also
// carries a marker: its "lo" has the link alias (IFLA_IFALIAS, shown by
// 'ip -d link') "pmonitor-emu run=P pid=PID start=TICKS [host=NAME]" (the
// root-namespace links of older versions carried it too). Cleanup deletes
// only objects whose name starts with its prefix, whose name has the shape
// above and whose marker names a run whose process (pid plus start time, so
// a reused pid does not count) no longer exists. The kernel takes no alias
// at creation, so a run killed in the microseconds between creating a
// namespace and marking it leaves an unmarked namespace that Cleanup does
// not touch ('ip netns del' it by hand).

// DefaultPrefix is the prefix every run prefix starts with; Cleanup with it
// considers the leftovers of all pmonitor runs.
const DefaultPrefix = "pm"

const (
	maxPrefixLen = 8  // keeps P-v99999 within ifNameMax
	ifNameMax    = 15 // IFNAMSIZ - 1
	maxHostName  = 64
	markerTag    = "pmonitor-emu"
	hostIfName   = "eth0"
)

// ErrInvalidPrefix reports a prefix outside the naming scheme: it must be
// "pm" followed by at most 6 lowercase letters or digits.
var ErrInvalidPrefix = errors.New("invalid prefix")

var (
	prefixRE   = regexp.MustCompile(`^pm[a-z0-9]{0,6}$`)
	hostNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// CheckPrefix returns an error wrapping ErrInvalidPrefix unless p is a valid
// run prefix (or Cleanup prefix).
func CheckPrefix(p string) error {
	if !prefixRE.MatchString(p) {
		return fmt.Errorf("%w %q: want %q followed by at most %d lowercase letters or digits",
			ErrInvalidPrefix, p, DefaultPrefix, maxPrefixLen-len(DefaultPrefix))
	}
	return nil
}

// randomPrefix returns "pm" plus 5 random lowercase letters or digits
// (36^5 = 60 million values); New retries on the rare collision.
func randomPrefix() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte(DefaultPrefix + "xxxxx")
	for i := len(DefaultPrefix); i < len(b); i++ {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

func checkHostName(name string) error {
	if len(name) > maxHostName || !hostNameRE.MatchString(name) {
		return fmt.Errorf("invalid host name %q: want 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit", name, maxHostName)
	}
	return nil
}

// bridgeName returns the name of host bridge k (1, 2, ...): the first keeps
// the name it had when a network had one bridge only.
func bridgeName(run string, k int) string {
	if k == 1 {
		return run + "-br"
	}
	return run + "-br" + strconv.Itoa(k)
}

func trunkName(run string) string            { return run + "-tr" }
func uplinkName(run string, k int) string    { return run + "-u" + strconv.Itoa(k) }
func trunkPortName(run string, k int) string { return run + "-t" + strconv.Itoa(k) }
func vethName(run string, n int) string      { return run + "-v" + strconv.Itoa(n) }
func netnsName(run, host string) string      { return run + "-" + host }
func netnsPath(name string) string           { return netnsDir + "/" + name }

// numbered reports whether name is run + tag + a decimal number >= 1 (no
// sign, no leading zero), as the names of the scheme are.
func numbered(run, tag, name string) bool {
	n, ok := strings.CutPrefix(name, run+tag)
	if !ok || n == "" || n[0] < '1' || n[0] > '9' {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
}

// isVethName reports whether name is "run-v<N>", the bridge side of a
// host's veth pair.
func isVethName(run, name string) bool { return numbered(run, "-v", name) }

// isTrunkVethName reports whether name is one end of the veth pair that
// joins a bridge to the trunk: "run-u<K>" or "run-t<K>".
func isTrunkVethName(run, name string) bool {
	return numbered(run, "-u", name) || numbered(run, "-t", name)
}

// isBridgeName reports whether name is one of the bridges of run: "run-br",
// "run-br<K>" (K >= 2) or the trunk "run-tr".
func isBridgeName(run, name string) bool {
	return name == bridgeName(run, 1) || name == trunkName(run) ||
		(numbered(run, "-br", name) && name != run+"-br1")
}

// isNetnsName reports whether name is "run-<valid host name>" or the
// switch, "run--sw".
func isNetnsName(run, name string) bool {
	host, ok := strings.CutPrefix(name, run+"-")
	return ok && checkHostName(host) == nil || name == switchNetns(run)
}

// owner identifies the run (and process) that created an object; it is
// stored as the object's marker.
type owner struct {
	run   string // run prefix
	pid   int
	start uint64 // process start time in clock ticks since boot (/proc/PID/stat field 22)
	host  string // optional: the host the object belongs to
}

// currentOwner describes the calling process as the owner of run.
func currentOwner(run string) (owner, error) {
	pid := os.Getpid()
	start, err := procStart(pid)
	if err != nil {
		return owner{}, err
	}
	return owner{run: run, pid: pid, start: start}, nil
}

func (o owner) forHost(host string) owner { o.host = host; return o }

// String returns the marker text.
func (o owner) String() string {
	s := fmt.Sprintf("%s run=%s pid=%d start=%d", markerTag, o.run, o.pid, o.start)
	if o.host != "" {
		s += " host=" + o.host
	}
	return s
}

// parseOwner parses a marker; ok is false if s is not one.
func parseOwner(s string) (o owner, ok bool) {
	f := strings.Fields(s)
	if len(f) < 4 || f[0] != markerTag {
		return owner{}, false
	}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "run":
			o.run = v
		case "pid":
			o.pid, err = strconv.Atoi(v)
		case "start":
			o.start, err = strconv.ParseUint(v, 10, 64)
		case "host":
			o.host = v
		}
		if err != nil {
			return owner{}, false
		}
	}
	return o, prefixRE.MatchString(o.run) && o.pid > 0
}

// alive reports whether the owning process still runs.
func (o owner) alive() bool {
	start, err := procStart(o.pid)
	return err == nil && start == o.start
}

// procStart returns the start time of process pid in clock ticks since boot.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces and parentheses: fields
	// after it start behind the last ')'. starttime is field 22 overall.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(s[i+1:])
	const startField = 22 - 3 // fields[0] is field 3 (state)
	if len(f) <= startField {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return strconv.ParseUint(f[startField], 10, 64)
}
