package probe

import (
	"fmt"
	"time"
)

// Texts of ICMPv4 destination unreachable codes (RFC 792, RFC 1812).
var unreach4 = [...]string{
	0:  "destination net unreachable",
	1:  "destination host unreachable",
	2:  "destination protocol unreachable",
	3:  "destination port unreachable",
	4:  "fragmentation needed",
	5:  "source route failed",
	6:  "destination net unknown",
	7:  "destination host unknown",
	8:  "source host isolated",
	9:  "destination net administratively prohibited",
	10: "destination host administratively prohibited",
	11: "destination net unreachable for TOS",
	12: "destination host unreachable for TOS",
	13: "communication administratively prohibited",
	14: "host precedence violation",
	15: "precedence cutoff in effect",
}

// Texts of ICMPv6 destination unreachable codes (RFC 4443).
var unreach6 = [...]string{
	0: "no route to destination",
	1: "communication administratively prohibited",
	2: "beyond scope of source address",
	3: "destination address unreachable",
	4: "destination port unreachable",
	5: "source address failed ingress/egress policy",
	6: "reject route to destination",
}

// statusOf maps an ICMP error packet to the probe status it causes.
func statusOf(k packetKind) Status {
	if k == kindTimeExceeded {
		return StatusTTLExceeded
	}
	return StatusUnreachable
}

// reasonOf describes the ICMP error p received on a socket of family fam,
// for example "destination host unreachable from 10.0.0.1".
func reasonOf(fam family, p packet) string {
	var text string
	switch p.kind {
	case kindUnreachable:
		names := unreach4[:]
		if fam == v6 {
			names = unreach6[:]
		}
		if int(p.code) < len(names) {
			text = names[p.code]
		} else {
			text = fmt.Sprintf("destination unreachable (code %d)", p.code)
		}
	case kindTimeExceeded:
		switch {
		case p.code == 1:
			text = "fragment reassembly time exceeded"
		case fam == v6:
			text = "hop limit exceeded in transit"
		default:
			text = "TTL exceeded in transit"
		}
	case kindParamProblem:
		text = fmt.Sprintf("parameter problem (code %d)", p.code)
	default:
		text = "unexpected ICMP message"
	}
	if p.from.IsValid() {
		return text + " from " + p.from.String()
	}
	return text
}

// timeoutReason is the Reason of a probe that reached its deadline.
func timeoutReason(d time.Duration) string { return "timeout after " + d.String() }

// localDropReason is the Reason of a probe that reached its deadline while
// its socket dropped n packets.
func localDropReason(d time.Duration, n uint64) string {
	return fmt.Sprintf("no reply within %v, and this host dropped %d received packets meanwhile (receive queue full)", d, n)
}
