package probe

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// Datagram ICMP sockets never read ICMP errors as packets: with IP_RECVERR
// the kernel queues them on the socket error queue, with the original echo
// request as data, a sock_extended_err and the offender's address as
// control message, and the original destination as source address. A
// pending error also fails the next recvmsg or sendmsg once (sk_err), which
// is how the engine learns that the queue needs draining.

// sizeofExtendedErr is sizeof(struct sock_extended_err).
const sizeofExtendedErr = 16

// drainErrQueue reads the error queue of a datagram socket and appends the
// ICMP errors it holds to pkts. It never blocks and is safe to call from
// any goroutine (it only needs the descriptor).
func (s *socket) drainErrQueue(pkts []packet) []packet {
	if !s.dgram || s.rc == nil {
		return pkts
	}
	var buf [512]byte
	var oob [256]byte
	_ = s.rc.Control(func(fd uintptr) {
		for range 4096 { // bounded: the queue is limited by the receive buffer anyway
			n, oobn, _, from, err := unix.Recvmsg(int(fd), buf[:], oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
			if err != nil {
				return
			}
			if p, ok := parseErrQueue(s.fam, buf[:n], oob[:oobn], sockaddrAddr(from)); ok {
				pkts = append(pkts, p)
			}
		}
	})
	return pkts
}

// parseErrQueue parses one error-queue message of a datagram socket of
// family fam: data is the echo request we sent, oob the control messages,
// dst the destination of that request.
func parseErrQueue(fam family, data, oob []byte, dst netip.Addr) (packet, bool) {
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return packet{}, false
	}
	for _, c := range cmsgs {
		v4err := c.Header.Level == unix.SOL_IP && c.Header.Type == unix.IP_RECVERR
		v6err := c.Header.Level == unix.SOL_IPV6 && c.Header.Type == unix.IPV6_RECVERR
		if (!v4err && !v6err) || len(c.Data) < sizeofExtendedErr {
			continue
		}
		origin, typ, code := c.Data[4], c.Data[5], c.Data[6]
		kind := errKind(fam, origin, typ)
		if kind == 0 {
			continue
		}
		p := packet{kind: kind, code: code, from: offender(c.Data[sizeofExtendedErr:]), target: dst.Unmap().WithZone("")}
		return p.parseQuotedEcho(fam, data)
	}
	return packet{}, false
}

// errKind maps the origin and ICMP type of a queued error to a packetKind
// (0 for errors that do not end a probe).
func errKind(fam family, origin, typ uint8) packetKind {
	switch {
	case fam == v4 && origin == unix.SO_EE_ORIGIN_ICMP:
		switch typ {
		case 3:
			return kindUnreachable
		case 11:
			return kindTimeExceeded
		case 12:
			return kindParamProblem
		}
	case fam == v6 && origin == unix.SO_EE_ORIGIN_ICMP6:
		switch typ {
		case 1:
			return kindUnreachable
		case 3:
			return kindTimeExceeded
		case 4:
			return kindParamProblem
		}
	}
	return 0
}

// offender decodes the sockaddr that follows sock_extended_err (SO_EE_OFFENDER).
func offender(b []byte) netip.Addr {
	if len(b) < 2 {
		return netip.Addr{}
	}
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_INET:
		if len(b) >= 8 {
			return netip.AddrFrom4([4]byte(b[4:8]))
		}
	case unix.AF_INET6:
		if len(b) >= 24 {
			return netip.AddrFrom16([16]byte(b[8:24])).Unmap()
		}
	}
	return netip.Addr{}
}

// sockaddrAddr extracts the IP address of a unix.Sockaddr.
func sockaddrAddr(sa unix.Sockaddr) netip.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(sa.Addr).Unmap()
	}
	return netip.Addr{}
}

// isICMPErrno reports whether err may be a pending ICMP error (sk_err) of a
// datagram socket rather than a failure of the call that returned it.
func isICMPErrno(err error) bool {
	for _, e := range []syscall.Errno{unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EHOSTDOWN,
		unix.ECONNREFUSED, unix.EPROTO, unix.EACCES, unix.EMSGSIZE, unix.ENOPROTOOPT, unix.ETIMEDOUT} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
