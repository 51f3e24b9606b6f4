package probe

import (
	"encoding/binary"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// family is an address family: v4 or v6.
type family uint8

const (
	v4 family = iota
	v6
)

func familyOf(a netip.Addr) family {
	if a.Unmap().Is4() {
		return v4
	}
	return v6
}

func (f family) String() string {
	if f == v4 {
		return "IPv4"
	}
	return "IPv6"
}

// proto is the IANA protocol number of ICMP for f.
func (f family) proto() int {
	if f == v4 {
		return 1
	}
	return 58
}

func (f family) echoRequest() icmp.Type {
	if f == v4 {
		return ipv4.ICMPTypeEcho
	}
	return ipv6.ICMPTypeEchoRequest
}

func (f family) echoReply() icmp.Type {
	if f == v4 {
		return ipv4.ICMPTypeEchoReply
	}
	return ipv6.ICMPTypeEchoReply
}

// packetKind is what a received packet says about a probe.
type packetKind uint8

const (
	kindReply        packetKind = iota + 1 // echo reply
	kindUnreachable                        // destination unreachable
	kindTimeExceeded                       // TTL / hop limit exceeded
	kindParamProblem                       // parameter problem
)

// packet is the part of a received ICMP message that matching needs.
type packet struct {
	kind   packetKind
	code   uint8         // ICMP code of the message
	id     uint16        // echo identifier (of the reply, or quoted in the error)
	seq    uint16        // echo sequence number
	hasKey bool          // token and key were present
	token  uint64        // engine token from the payload
	key    uint64        // probe key from the payload
	from   netip.Addr    // sender of the packet: the target, or a router for errors
	target netip.Addr    // probed address: from for replies, quoted destination for errors
	at     time.Duration // engine time of arrival at the socket (see arrival.go)
}

// tokenLen is the room token and key take at the start of the payload.
const tokenLen = 16

// putKey writes token and key at the start of payload.
func putKey(payload []byte, token, key uint64) {
	binary.BigEndian.PutUint64(payload[0:8], token)
	binary.BigEndian.PutUint64(payload[8:16], key)
}

// parsePacket parses one message read from an ICMP socket of family fam:
// an ICMP message, for IPv4 possibly preceded by its IPv4 header (raw
// sockets read through recvmsg keep it). from is the sender. It reports
// false for messages that cannot concern a probe (echo requests, redirects,
// neighbor discovery, garbage).
func parsePacket(fam family, b []byte, from netip.Addr) (packet, bool) {
	if fam == v4 && len(b) > 0 && b[0]>>4 == 4 {
		// No ICMP type starts with 0x4_, so this is an IPv4 header.
		hl := int(b[0]&0x0f) << 2
		if hl < ipv4.HeaderLen || len(b) < hl {
			return packet{}, false
		}
		b = b[hl:]
	}
	m, err := icmp.ParseMessage(fam.proto(), b)
	if err != nil {
		return packet{}, false
	}
	p := packet{code: uint8(m.Code), from: from}
	var quoted []byte
	switch body := m.Body.(type) {
	case *icmp.Echo:
		if m.Type != fam.echoReply() {
			return packet{}, false
		}
		p.kind, p.target = kindReply, from
		p.setEcho(body)
		return p, true
	case *icmp.DstUnreach:
		p.kind, quoted = kindUnreachable, body.Data
	case *icmp.TimeExceeded:
		p.kind, quoted = kindTimeExceeded, body.Data
	case *icmp.ParamProb:
		p.kind, quoted = kindParamProblem, body.Data
	default:
		return packet{}, false
	}
	return p.parseQuoted(fam, quoted)
}

// parseQuoted completes the error packet p from the original datagram it
// quotes: it must be one of our echo requests.
func (p packet) parseQuoted(fam family, b []byte) (packet, bool) {
	var rest []byte
	switch fam {
	case v4:
		h, err := ipv4.ParseHeader(b)
		if err != nil || h.Version != 4 || h.Protocol != fam.proto() || h.FragOff != 0 {
			return packet{}, false
		}
		p.target = addrFromIP(h.Dst)
		rest = b[h.Len:]
	case v6:
		h, err := ipv6.ParseHeader(b)
		if err != nil || h.Version != 6 || h.NextHeader != fam.proto() {
			return packet{}, false
		}
		p.target = addrFromIP(h.Dst)
		rest = b[ipv6.HeaderLen:]
	}
	return p.parseQuotedEcho(fam, rest)
}

// parseQuotedEcho completes p from the echo request quoted by an ICMP error
// (or returned by the error queue of a datagram socket).
func (p packet) parseQuotedEcho(fam family, b []byte) (packet, bool) {
	m, err := icmp.ParseMessage(fam.proto(), b)
	if err != nil || m.Type != fam.echoRequest() {
		return packet{}, false
	}
	echo, ok := m.Body.(*icmp.Echo)
	if !ok || !p.target.IsValid() {
		return packet{}, false
	}
	p.setEcho(echo)
	return p, true
}

func (p *packet) setEcho(e *icmp.Echo) {
	p.id, p.seq = uint16(e.ID), uint16(e.Seq)
	if len(e.Data) >= tokenLen {
		p.hasKey = true
		p.token = binary.BigEndian.Uint64(e.Data[0:8])
		p.key = binary.BigEndian.Uint64(e.Data[8:16])
	}
}

// addrFromIP converts ip to a netip.Addr without IPv4 mapping.
func addrFromIP(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// addrFromNet extracts the IP address of a socket address.
func addrFromNet(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.IPAddr:
		return addrFromIP(a.IP)
	case *net.UDPAddr:
		return addrFromIP(a.IP)
	}
	return netip.Addr{}
}
