package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// SystemListener opens real ICMP sockets: raw ones through the net package,
// datagram ("ping") ones directly, since net cannot create them. It is the
// default PacketListener.
type SystemListener struct{}

// ListenPacket opens a socket for one of the Network* networks bound to
// address.
func (SystemListener) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	switch network {
	case NetworkRaw4, NetworkRaw6:
		var lc net.ListenConfig
		return lc.ListenPacket(ctx, network, address)
	case NetworkDgram4:
		return listenDgram(unix.AF_INET, unix.IPPROTO_ICMP, address)
	case NetworkDgram6:
		return listenDgram(unix.AF_INET6, unix.IPPROTO_ICMPV6, address)
	}
	return nil, fmt.Errorf("listen %s: unknown network", network)
}

// listenDgram opens an ICMP datagram socket bound to address; binding picks
// the echo identifier (the port of LocalAddr).
func listenDgram(af, proto int, address string) (net.PacketConn, error) {
	sa, err := sockaddr(af, address)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(af, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	f := os.NewFile(uintptr(fd), "icmp-dgram")
	defer f.Close() // FilePacketConn dups the descriptor
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("datagram ICMP socket: %w", err)
	}
	return c, nil
}

// sockaddr converts a literal address ("" = any) to a socket address of af.
func sockaddr(af int, address string) (unix.Sockaddr, error) {
	var a netip.Addr
	if address != "" {
		var err error
		if a, err = netip.ParseAddr(address); err != nil {
			return nil, fmt.Errorf("bind address: %w", err)
		}
	}
	a = a.Unmap()
	if af == unix.AF_INET {
		if a.IsValid() && !a.Is4() {
			return nil, fmt.Errorf("bind address %s is not IPv4", a)
		}
		sa := &unix.SockaddrInet4{}
		if a.IsValid() {
			sa.Addr = a.As4()
		}
		return sa, nil
	}
	if a.IsValid() && !a.Is6() {
		return nil, fmt.Errorf("bind address %s is not IPv6", a)
	}
	sa := &unix.SockaddrInet6{}
	if a.IsValid() {
		sa.Addr = a.As16()
		if z := a.Zone(); z != "" {
			if n, err := strconv.Atoi(z); err == nil {
				sa.ZoneId = uint32(n)
			} else if ifi, err := net.InterfaceByName(z); err == nil {
				sa.ZoneId = uint32(ifi.Index)
			} else {
				return nil, fmt.Errorf("bind address %s: zone: %w", a, err)
			}
		}
	}
	return sa, nil
}
