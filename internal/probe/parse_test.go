package probe

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// request builds an echo request of the engine with token, key, id, seq.
func request(t testing.TB, fam family, id, seq int, token, key uint64) []byte {
	t.Helper()
	payload := make([]byte, DefaultPayloadSize)
	putKey(payload, token, key)
	return marshal(t, fam, fam.echoRequest(), 0, &icmp.Echo{ID: id, Seq: seq, Data: payload})
}

// parseSeeds are the packets of TestParsePacket, also the fuzz corpus.
func parseSeeds(t testing.TB) []struct {
	name string
	fam  family
	b    []byte
	want *packet // nil: not a probe packet
} {
	const token, key = 0x0102030405060708, 0x0000000700000003
	req4 := request(t, v4, 77, 3, token, key)
	req6 := request(t, v6, 77, 3, token, key)
	reply4 := replyTo(t, v4, req4, nil)
	reply6 := replyTo(t, v6, req6, nil)
	withOpts := &ipv4.Header{Version: 4, Len: 24, TotalLen: 24 + len(reply4), TTL: 64, Protocol: 1,
		Src: target4.AsSlice(), Dst: local4.AsSlice(), Options: []byte{1, 1, 1, 0}}
	optHdr, err := withOpts.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	udp := append(ipHeader(t, local4, target4, 8), make([]byte, 8)...)
	udp[9] = 17 // the quoted packet is UDP
	full := func(fam family, kind packetKind, code uint8, from netip.Addr) *packet {
		return &packet{kind: kind, code: code, id: 77, seq: 3, hasKey: true, token: token, key: key, from: from, target: map[family]netip.Addr{v4: target4, v6: target6}[fam]}
	}
	truncated := func(p *packet) *packet { p.hasKey, p.token, p.key = false, 0, 0; return p }
	return []struct {
		name string
		fam  family
		b    []byte
		want *packet
	}{
		{"v4 reply", v4, reply4, full(v4, kindReply, 0, target4)},
		{"v4 reply after header", v4, append(ipHeader(t, target4, local4, len(reply4)), reply4...), full(v4, kindReply, 0, target4)},
		{"v4 reply after header with options", v4, append(optHdr, reply4...), full(v4, kindReply, 0, target4)},
		{"v4 request", v4, req4, nil},
		{"v4 header only", v4, ipHeader(t, target4, local4, 0), nil},
		{"v4 header length beyond data", v4, []byte{0x4f, 0, 0, 0}, nil},
		{"empty", v4, nil, nil},
		{"three bytes", v6, []byte{129, 0, 0}, nil},
		{"v4 unreachable", v4, icmpError(t, v4, kindUnreachable, 1, local4, target4, req4, -1), full(v4, kindUnreachable, 1, router4)},
		{"v4 unreachable quoting 8 bytes", v4, icmpError(t, v4, kindUnreachable, 1, local4, target4, req4, 8),
			truncated(full(v4, kindUnreachable, 1, router4))},
		{"v4 unreachable quoting 4 bytes", v4, icmpError(t, v4, kindUnreachable, 1, local4, target4, req4, 4), nil},
		{"v4 time exceeded", v4, icmpError(t, v4, kindTimeExceeded, 0, local4, target4, req4, -1), full(v4, kindTimeExceeded, 0, router4)},
		{"v4 parameter problem", v4, icmpError(t, v4, kindParamProblem, 0, local4, target4, req4, -1), full(v4, kindParamProblem, 0, router4)},
		{"v4 unreachable about UDP", v4, marshal(t, v4, ipv4.ICMPTypeDestinationUnreachable, 3, &icmp.DstUnreach{Data: udp}), nil},
		{"v4 redirect", v4, marshal(t, v4, ipv4.ICMPTypeRedirect, 0, &icmp.RawBody{Data: make([]byte, 32)}), nil},
		{"v6 reply", v6, reply6, full(v6, kindReply, 0, target6)},
		{"v6 request", v6, req6, nil},
		{"v6 unreachable", v6, icmpError(t, v6, kindUnreachable, 3, local6, target6, req6, -1), full(v6, kindUnreachable, 3, router6)},
		{"v6 unreachable quoting 8 bytes", v6, icmpError(t, v6, kindUnreachable, 0, local6, target6, req6, 8),
			truncated(full(v6, kindUnreachable, 0, router6))},
		{"v6 time exceeded", v6, icmpError(t, v6, kindTimeExceeded, 0, local6, target6, req6, -1), full(v6, kindTimeExceeded, 0, router6)},
		{"v6 neighbor solicitation", v6, marshal(t, v6, ipv6.ICMPTypeNeighborSolicitation, 0, &icmp.RawBody{Data: make([]byte, 20)}), nil},
		{"v6 error quoting a v4 header", v6, icmpError(t, v4, kindUnreachable, 1, local4, target4, req4, -1), nil},
	}
}

func TestParsePacket(t *testing.T) {
	for _, tc := range parseSeeds(t) {
		t.Run(tc.name, func(t *testing.T) {
			from := target4
			if tc.want != nil {
				from = tc.want.from
			}
			got, ok := parsePacket(tc.fam, tc.b, from)
			switch {
			case tc.want == nil && ok:
				t.Errorf("parsed %+v, want rejection", got)
			case tc.want != nil && !ok:
				t.Errorf("rejected, want %+v", *tc.want)
			case tc.want != nil && got != *tc.want:
				t.Errorf("parsed %+v\nwant   %+v", got, *tc.want)
			}
		})
	}
}

func FuzzParsePacket(f *testing.F) {
	for _, tc := range parseSeeds(f) {
		f.Add(tc.b, tc.fam == v6)
	}
	f.Fuzz(func(t *testing.T, b []byte, isV6 bool) {
		fam := v4
		if isV6 {
			fam = v6
		}
		p, ok := parsePacket(fam, b, router4)
		if ok && (p.kind < kindReply || p.kind > kindParamProblem || !p.target.IsValid()) {
			t.Errorf("accepted a packet without kind or target: %+v", p)
		}
		if ok {
			_ = reasonOf(fam, p) // must not panic for any code
		}
	})
}

// errQueueMsg builds the control message of a queued ICMP error.
func errQueueMsg(fam family, origin, typ, code uint8, offender netip.Addr) []byte {
	data := make([]byte, sizeofExtendedErr, sizeofExtendedErr+28)
	binary.NativeEndian.PutUint32(data[0:4], uint32(unix.EHOSTUNREACH))
	data[4], data[5], data[6] = origin, typ, code
	level, typ2 := unix.SOL_IP, unix.IP_RECVERR
	if fam == v6 {
		level, typ2 = unix.SOL_IPV6, unix.IPV6_RECVERR
	}
	if offender.Is4() {
		sa := make([]byte, 16)
		binary.NativeEndian.PutUint16(sa, unix.AF_INET)
		a := offender.As4()
		copy(sa[4:8], a[:])
		data = append(data, sa...)
	} else if offender.Is6() {
		sa := make([]byte, 28)
		binary.NativeEndian.PutUint16(sa, unix.AF_INET6)
		a := offender.As16()
		copy(sa[8:24], a[:])
		data = append(data, sa...)
	}
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = int32(level), int32(typ2)
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func TestParseErrQueue(t *testing.T) {
	const token, key = 0x1111, 0x2222
	req4 := request(t, v4, 5, 6, token, key)
	req6 := request(t, v6, 5, 6, token, key)
	for _, tc := range []struct {
		name string
		fam  family
		data []byte
		oob  []byte
		want *packet
	}{
		{"v4 host unreachable", v4, req4, errQueueMsg(v4, unix.SO_EE_ORIGIN_ICMP, 3, 1, router4),
			&packet{kind: kindUnreachable, code: 1, id: 5, seq: 6, hasKey: true, token: token, key: key, from: router4, target: target4}},
		{"v4 time exceeded", v4, req4, errQueueMsg(v4, unix.SO_EE_ORIGIN_ICMP, 11, 0, router4),
			&packet{kind: kindTimeExceeded, id: 5, seq: 6, hasKey: true, token: token, key: key, from: router4, target: target4}},
		{"v6 address unreachable", v6, req6, errQueueMsg(v6, unix.SO_EE_ORIGIN_ICMP6, 1, 3, router6),
			&packet{kind: kindUnreachable, code: 3, id: 5, seq: 6, hasKey: true, token: token, key: key, from: router6, target: target6}},
		{"v6 hop limit", v6, req6, errQueueMsg(v6, unix.SO_EE_ORIGIN_ICMP6, 3, 0, router6),
			&packet{kind: kindTimeExceeded, id: 5, seq: 6, hasKey: true, token: token, key: key, from: router6, target: target6}},
		{"local error", v4, req4, errQueueMsg(v4, unix.SO_EE_ORIGIN_LOCAL, 0, 0, netip.Addr{}), nil},
		{"v4 origin on v6 socket", v6, req6, errQueueMsg(v4, unix.SO_EE_ORIGIN_ICMP, 3, 1, router4), nil},
		{"no control message", v4, req4, nil, nil},
		{"not an echo request", v4, replyTo(t, v4, req4, nil), errQueueMsg(v4, unix.SO_EE_ORIGIN_ICMP, 3, 1, router4), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := map[family]netip.Addr{v4: target4, v6: target6}[tc.fam]
			got, ok := parseErrQueue(tc.fam, tc.data, tc.oob, dst)
			switch {
			case tc.want == nil && ok:
				t.Errorf("parsed %+v, want rejection", got)
			case tc.want != nil && (!ok || got != *tc.want):
				t.Errorf("parsed %+v (ok %v)\nwant   %+v", got, ok, *tc.want)
			}
		})
	}
}

func FuzzParseErrQueue(f *testing.F) {
	req := request(f, v4, 5, 6, 1, 2)
	f.Add(req, errQueueMsg(v4, unix.SO_EE_ORIGIN_ICMP, 3, 1, router4), false)
	f.Add(request(f, v6, 5, 6, 1, 2), errQueueMsg(v6, unix.SO_EE_ORIGIN_ICMP6, 1, 3, router6), true)
	f.Add(req, []byte{}, false)
	f.Fuzz(func(t *testing.T, data, oob []byte, isV6 bool) {
		fam := v4
		if isV6 {
			fam = v6
		}
		if p, ok := parseErrQueue(fam, data, oob, target4); ok && p.kind == 0 {
			t.Errorf("accepted an error without kind: %+v", p)
		}
	})
}
