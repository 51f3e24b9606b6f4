package probe

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// Mode selects the kind of ICMP socket an Engine opens.
type Mode int

// Socket modes.
const (
	// ModeAuto opens raw sockets when permitted (CAP_NET_RAW) and falls back
	// to datagram sockets otherwise.
	ModeAuto Mode = iota
	// ModeRaw opens raw ICMP sockets; it needs CAP_NET_RAW.
	ModeRaw
	// ModeDatagram opens unprivileged ICMP datagram ("ping") sockets; the
	// caller's group must lie in net.ipv4.ping_group_range of the namespace.
	ModeDatagram
)

// String returns "auto", "raw" or "datagram".
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeRaw:
		return "raw"
	case ModeDatagram:
		return "datagram"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Networks passed to PacketListener.ListenPacket, as in
// golang.org/x/net/icmp.ListenPacket.
const (
	NetworkRaw4   = "ip4:icmp"      // raw ICMPv4 socket
	NetworkRaw6   = "ip6:ipv6-icmp" // raw ICMPv6 socket
	NetworkDgram4 = "udp4"          // ICMPv4 datagram ("ping") socket
	NetworkDgram6 = "udp6"          // ICMPv6 datagram ("ping") socket
)

// PacketListener opens the sockets an Engine sends and receives on. network
// is one of NetworkRaw4, NetworkRaw6, NetworkDgram4 or NetworkDgram6; address
// is the local address to bind ("0.0.0.0", "::" or Config.Source). Tests
// pass a fake; nil in Config means SystemListener.
//
// The Engine calls ListenPacket on a thread that is inside Config.Netns.
// Conns that are *net.IPConn or *net.UDPConn get batched I/O, a large
// receive buffer and kernel filters; other conns are driven through the
// plain net.PacketConn methods, or through ReadMsg(b, oob []byte) (n, oobn
// int, from net.Addr, err error) when they have it, so that a fake can
// report the kernel's drop counts (SO_RXQ_OVFL control messages). For raw IPv4 conns, data read may start with
// the IPv4 header or not; both are understood. For datagram conns the echo
// identifier is the port of LocalAddr (when it is a *net.UDPAddr).
type PacketListener interface {
	ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error)
}

// Config configures an Engine. The zero value is usable: raw or datagram
// sockets chosen automatically, 56-byte payloads, no pacing.
type Config struct {
	// Source, when valid, is the local address probes of its family are sent
	// from (like ping -I ADDR). Targets of the other family use an unbound
	// socket.
	Source netip.Addr
	// Netns, when set, is the path of a network namespace (for example
	// /var/run/netns/NAME) in which the sockets are opened, so one process
	// can probe from several emulated hosts.
	Netns string
	// PayloadSize is the ICMP echo payload length in bytes; 0 means 56. It
	// must hold the token and key (MinPayloadSize bytes).
	PayloadSize int
	// TTL is the IPv4 TTL and IPv6 hop limit of probes; 0 keeps the system
	// default.
	TTL int
	// Gap is the minimum time between two sends; 0 sends as fast as the
	// socket accepts (like fping -i0). Sleeps are subject to timer
	// granularity, so very small gaps may come out longer.
	Gap time.Duration
	// Mode selects raw or datagram sockets.
	Mode Mode
	// Listener opens the sockets; nil means SystemListener.
	Listener PacketListener
	// Now is the engine clock; nil means time.Now. RTTs are differences of
	// its readings, so it must be monotonic (time.Now is).
	Now func() time.Time
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// RecvBuffer is the socket receive buffer in bytes; 0 means
	// DefaultRecvBuffer. It is forced (SO_RCVBUFFORCE) when permitted.
	RecvBuffer int
}

// Payload limits and defaults.
const (
	DefaultPayloadSize = 56
	// MinPayloadSize is the room needed for the engine token and probe key.
	MinPayloadSize = 16
	// MaxPayloadSize keeps an IPv4 probe within 65535 bytes.
	MaxPayloadSize = 65535 - 20 - 8
	// DefaultRecvBuffer holds a burst of 50,000 loopback replies.
	DefaultRecvBuffer = 32 << 20
)

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.PayloadSize == 0:
		c.PayloadSize = DefaultPayloadSize
	case c.PayloadSize < MinPayloadSize:
		return c, fmt.Errorf("payload size %d too small: need at least %d bytes for the probe token", c.PayloadSize, MinPayloadSize)
	case c.PayloadSize > MaxPayloadSize:
		return c, fmt.Errorf("payload size %d too large: at most %d bytes", c.PayloadSize, MaxPayloadSize)
	}
	if c.TTL < 0 || c.TTL > 255 {
		return c, fmt.Errorf("ttl %d out of range 0-255", c.TTL)
	}
	if c.Gap < 0 {
		return c, fmt.Errorf("negative gap %v", c.Gap)
	}
	if c.Mode < ModeAuto || c.Mode > ModeDatagram {
		return c, fmt.Errorf("unknown socket mode %d", int(c.Mode))
	}
	if c.RecvBuffer < 0 {
		return c, fmt.Errorf("negative receive buffer %d", c.RecvBuffer)
	}
	if c.RecvBuffer == 0 {
		c.RecvBuffer = DefaultRecvBuffer
	}
	c.Source = c.Source.Unmap()
	if c.Source.IsValid() && c.Source.IsUnspecified() {
		c.Source = netip.Addr{}
	}
	if c.Listener == nil {
		c.Listener = SystemListener{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
