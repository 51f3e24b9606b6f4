package probe

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// socket is one ICMP socket of an Engine with its echo identifier.
type socket struct {
	fam   family
	dgram bool
	conn  net.PacketConn
	id    uint16
	anyID bool             // datagram conn with unknown identifier: the kernel filters for us
	p4    *ipv4.PacketConn // options of real IPv4 sockets, else nil
	p6    *ipv6.PacketConn // options of real IPv6 sockets, else nil
	rc    syscall.RawConn  // real sockets only, else nil
	w     rawWriter        // allocation-free sends on real sockets
	drops dropCounter      // the kernel's count of packets dropped on this socket
}

// rawWriter sends on a real socket without allocating: the socket
// address and the callback are reused, and sendto is a raw system call
// (see rawsys.go). Only the sender goroutine uses it.
type rawWriter struct {
	b     []byte
	sa4   unix.RawSockaddrInet4
	sa6   unix.RawSockaddrInet6
	sa    unsafe.Pointer
	salen uintptr
	errno unix.Errno
	fn    func(fd uintptr) bool
}

// permissionHint explains how to make ICMP sockets available.
const permissionHint = "raw ICMP sockets need CAP_NET_RAW; datagram ICMP sockets need the caller's group " +
	"within sysctl net.ipv4.ping_group_range, which is set per network namespace and excludes everyone in a new one"

// openSocket opens the socket of family fam as cfg asks, inside cfg.Netns.
func openSocket(ctx context.Context, cfg Config, fam family) (*socket, error) {
	laddr := "0.0.0.0"
	if fam == v6 {
		laddr = "::"
	}
	if cfg.Source.IsValid() && familyOf(cfg.Source) == fam {
		laddr = cfg.Source.String()
	}
	var rawErr error
	if cfg.Mode != ModeDatagram {
		s, err := listen(ctx, cfg, fam, false, laddr)
		if err == nil {
			return s, nil
		}
		if cfg.Mode == ModeRaw || !errors.Is(err, os.ErrPermission) {
			return nil, withHint(fmt.Errorf("open raw %v ICMP socket: %w", fam, err))
		}
		rawErr = err
	}
	s, err := listen(ctx, cfg, fam, true, laddr)
	if err == nil {
		cfg.Logger.Debug("using datagram ICMP socket", "family", fam.String(), "raw_error", rawErr)
		return s, nil
	}
	if rawErr != nil {
		return nil, fmt.Errorf("no %v ICMP socket (raw: %v; datagram: %w): %s", fam, rawErr, err, permissionHint)
	}
	return nil, withHint(fmt.Errorf("open datagram %v ICMP socket: %w", fam, err))
}

// withHint appends permissionHint to permission errors.
func withHint(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w: %s", err, permissionHint)
	}
	return err
}

// listen opens and configures one socket.
func listen(ctx context.Context, cfg Config, fam family, dgram bool, laddr string) (*socket, error) {
	network := [2][2]string{{NetworkRaw4, NetworkDgram4}, {NetworkRaw6, NetworkDgram6}}[fam][b2i(dgram)]
	var conn net.PacketConn
	err := inNetns(cfg.Netns, func() error {
		var err error
		conn, err = cfg.Listener.ListenPacket(ctx, network, laddr)
		return err
	})
	if err != nil {
		return nil, err
	}
	s := &socket{fam: fam, dgram: dgram, conn: conn, id: uint16(rand.Uint32())}
	if err := s.configure(cfg); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// configure sets the identifier, buffers, filters and TTL of a new socket.
func (s *socket) configure(cfg Config) error {
	if s.dgram {
		s.anyID = true
		if ua, ok := s.conn.LocalAddr().(*net.UDPAddr); ok && ua.Port != 0 {
			s.id, s.anyID = uint16(ua.Port), false
		}
	}
	switch s.conn.(type) {
	case *net.IPConn, *net.UDPConn:
	default:
		return nil // a fake: nothing to tune
	}
	sc := s.conn.(syscall.Conn)
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("%v socket: %w", s.fam, err)
	}
	s.rc = rc
	s.w.fn = func(fd uintptr) bool {
		s.w.errno = rawSendto(fd, s.w.b, s.w.sa, s.w.salen)
		for s.w.errno == unix.EINTR {
			s.w.errno = rawSendto(fd, s.w.b, s.w.sa, s.w.salen)
		}
		return s.w.errno != unix.EAGAIN // EAGAIN: wait until writable
	}
	if s.fam == v4 {
		s.p4 = ipv4.NewPacketConn(s.conn)
	} else {
		s.p6 = ipv6.NewPacketConn(s.conn)
	}
	s.setRecvBuffer(cfg)
	if err := s.setsockoptInt(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
		cfg.Logger.Warn("cannot enable drop counts (SO_RXQ_OVFL); replies dropped by this host will look like loss",
			"family", s.fam.String(), "err", err)
	}
	if err := s.setsockoptInt(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		cfg.Logger.Warn("cannot enable arrival times (SO_TIMESTAMPNS); replies read late will count as late",
			"family", s.fam.String(), "err", err)
	}
	if !s.dgram {
		if err := s.setFilter(); err != nil {
			cfg.Logger.Warn("cannot set ICMP filter; every ICMP packet will be read", "family", s.fam.String(), "err", err)
		}
	} else if err := s.setsockoptInt(recvErrOpt(s.fam)); err != nil {
		cfg.Logger.Warn("cannot enable ICMP error reports on datagram socket", "family", s.fam.String(), "err", err)
	}
	if cfg.TTL > 0 {
		if s.fam == v4 {
			err = s.p4.SetTTL(cfg.TTL)
		} else {
			err = s.p6.SetHopLimit(cfg.TTL)
		}
		if err != nil {
			return fmt.Errorf("set %v TTL %d: %w", s.fam, cfg.TTL, err)
		}
	}
	return nil
}

// recvErrOpt is the option that queues ICMP errors on datagram sockets.
func recvErrOpt(f family) (level, opt, value int) {
	if f == v4 {
		return unix.SOL_IP, unix.IP_RECVERR, 1
	}
	return unix.SOL_IPV6, unix.IPV6_RECVERR, 1
}

func (s *socket) setsockoptInt(level, opt, value int) error {
	var serr error
	if err := s.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), level, opt, value)
	}); err != nil {
		return err
	}
	return serr
}

// setRecvBuffer enlarges the receive buffer so a burst of replies is not
// dropped: forced beyond net.core.rmem_max when privileged.
func (s *socket) setRecvBuffer(cfg Config) {
	err := s.setsockoptInt(unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.RecvBuffer)
	if err == nil {
		return
	}
	if err2 := s.setsockoptInt(unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.RecvBuffer); err2 != nil {
		cfg.Logger.Warn("cannot set receive buffer", "bytes", cfg.RecvBuffer, "err", err2)
		return
	}
	cfg.Logger.Debug("receive buffer capped by net.core.rmem_max", "bytes", cfg.RecvBuffer, "force_err", err)
}

// setFilter makes the kernel drop ICMP types that cannot concern a probe:
// on loopback a raw socket would otherwise read every echo request too.
func (s *socket) setFilter() error {
	if s.fam == v4 {
		var f ipv4.ICMPFilter
		f.SetAll(true)
		for _, t := range []ipv4.ICMPType{ipv4.ICMPTypeEchoReply, ipv4.ICMPTypeDestinationUnreachable,
			ipv4.ICMPTypeTimeExceeded, ipv4.ICMPTypeParameterProblem} {
			f.Accept(t)
		}
		return s.p4.SetICMPFilter(&f)
	}
	var f ipv6.ICMPFilter
	f.SetAll(true)
	for _, t := range []ipv6.ICMPType{ipv6.ICMPTypeEchoReply, ipv6.ICMPTypeDestinationUnreachable,
		ipv6.ICMPTypeTimeExceeded, ipv6.ICMPTypeParameterProblem} {
		f.Accept(t)
	}
	return s.p6.SetICMPFilter(&f)
}

// writeTo sends one ICMP message to dst.
func (s *socket) writeTo(b []byte, dst netip.Addr) error {
	if s.rc != nil {
		return s.writeRaw(b, dst)
	}
	var err error // a test fake
	if s.dgram {
		_, err = s.conn.WriteTo(b, &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()})
	} else {
		_, err = s.conn.WriteTo(b, &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()})
	}
	return err
}

// writeRaw sends b to dst on a real socket (raw or datagram: a datagram
// ICMP socket takes the port of dst as 0).
func (s *socket) writeRaw(b []byte, dst netip.Addr) error {
	w := &s.w
	if dst.Is4() {
		w.sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst.As4()}
		w.sa, w.salen = unsafe.Pointer(&w.sa4), unix.SizeofSockaddrInet4
	} else {
		w.sa6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: dst.As16()}
		if z := dst.Zone(); z != "" {
			ifi, err := net.InterfaceByName(z)
			if err != nil {
				return fmt.Errorf("zone of %v: %w", dst, err)
			}
			w.sa6.Scope_id = uint32(ifi.Index)
		}
		w.sa, w.salen = unsafe.Pointer(&w.sa6), unix.SizeofSockaddrInet6
	}
	w.b, w.errno = b, 0
	if err := s.rc.Write(w.fn); err != nil {
		return err
	}
	w.b = nil
	if w.errno != 0 {
		return os.NewSyscallError("sendto", w.errno)
	}
	return nil
}
