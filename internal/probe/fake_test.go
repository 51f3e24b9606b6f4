package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// fakeListener hands out fakeConns and records them by network.
type fakeListener struct {
	mu    sync.Mutex
	conns map[string]*fakeConn
	fail  map[string]error // network → error ListenPacket returns
	port  int              // LocalAddr port of datagram conns
	gate  chan struct{}    // given to every conn (see fakeConn.gate)
}

func (l *fakeListener) ListenPacket(_ context.Context, network, address string) (net.PacketConn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.fail[network]; err != nil {
		return nil, err
	}
	c := &fakeConn{
		network: network,
		sent:    make(chan sentPacket, 4096),
		inbox:   make(chan inPacket, 4096),
		closed:  make(chan struct{}),
		gate:    l.gate,
	}
	c.local = &net.IPAddr{IP: net.ParseIP(address)}
	if network == NetworkDgram4 || network == NetworkDgram6 {
		c.local = &net.UDPAddr{IP: net.ParseIP(address), Port: l.port}
	}
	if l.conns == nil {
		l.conns = map[string]*fakeConn{}
	}
	l.conns[network] = c
	return c, nil
}

func (l *fakeListener) conn(network string) *fakeConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[network]
}

// sentPacket is one write to a fakeConn.
type sentPacket struct {
	b   []byte
	dst netip.Addr
	at  time.Time // real time
}

// inPacket is one packet a fakeConn will return from ReadFrom.
type inPacket struct {
	b    []byte
	from netip.Addr
	oob  []byte // control messages, as the kernel attaches them
}

// fakeConn is a net.PacketConn whose traffic the test drives.
type fakeConn struct {
	network   string
	local     net.Addr
	sent      chan sentPacket
	inbox     chan inPacket
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	writeErr []error // errors returned by the next writes, in order

	// gate, when not nil, holds ReadMsg (the receiver goroutine) until it
	// is closed; ReadMsgNow (the timer's drain) does not wait for it.
	gate chan struct{}
}

func (c *fakeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, _, from, err := c.ReadMsg(b, nil)
	return n, from, err
}

// ReadMsg makes the fake a msgReader: it returns the control messages of
// injected packets, drop counts included.
func (c *fakeConn) ReadMsg(b, oob []byte) (int, int, net.Addr, error) {
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-c.closed:
			return 0, 0, nil, net.ErrClosed
		}
	}
	select {
	case p := <-c.inbox:
		n, oobn, from := c.deliver(p, b, oob)
		return n, oobn, from, nil
	case <-c.closed:
		return 0, 0, nil, net.ErrClosed
	}
}

// ReadMsgNow makes the fake a nowReader.
func (c *fakeConn) ReadMsgNow(b, oob []byte) (int, int, net.Addr, bool) {
	select {
	case p := <-c.inbox:
		n, oobn, from := c.deliver(p, b, oob)
		return n, oobn, from, true
	default:
		return 0, 0, nil, false
	}
}

func (c *fakeConn) deliver(p inPacket, b, oob []byte) (int, int, net.Addr) {
	n, oobn := copy(b, p.b), copy(oob, p.oob)
	if c.network == NetworkDgram4 || c.network == NetworkDgram6 {
		return n, oobn, &net.UDPAddr{IP: p.from.AsSlice()}
	}
	return n, oobn, &net.IPAddr{IP: p.from.AsSlice()}
}

func (c *fakeConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	if len(c.writeErr) > 0 {
		err := c.writeErr[0]
		c.writeErr = c.writeErr[1:]
		c.mu.Unlock()
		if err != nil {
			return 0, err
		}
	} else {
		c.mu.Unlock()
	}
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.sent <- sentPacket{b: append([]byte(nil), b...), dst: addrFromNet(addr), at: time.Now()}
	return len(b), nil
}

func (c *fakeConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) LocalAddr() net.Addr              { return c.local }
func (c *fakeConn) SetDeadline(time.Time) error      { return errors.ErrUnsupported }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return errors.ErrUnsupported }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return errors.ErrUnsupported }

// inject queues b as received from from.
func (c *fakeConn) inject(b []byte, from netip.Addr) { c.inbox <- inPacket{b: b, from: from} }

// injectDropped queues b as received from from, with the kernel's report
// that the socket has dropped drops packets so far (SO_RXQ_OVFL).
func (c *fakeConn) injectDropped(b []byte, from netip.Addr, drops uint32) {
	c.inbox <- inPacket{b: b, from: from, oob: rxqOverflowMsg(drops)}
}

// injectArrived queues b as received from from, stamped by the kernel as
// arrived at arrived (SO_TIMESTAMPNS).
func (c *fakeConn) injectArrived(b []byte, from netip.Addr, arrived time.Time) {
	c.inbox <- inPacket{b: b, from: from, oob: timestampCmsg(arrived)}
}

// failWrites makes the next writes return errs (nil: succeed).
func (c *fakeConn) failWrites(errs ...error) {
	c.mu.Lock()
	c.writeErr = append(c.writeErr, errs...)
	c.mu.Unlock()
}

// next waits for the next packet the engine writes.
func (c *fakeConn) next(t testing.TB) sentPacket {
	t.Helper()
	select {
	case p := <-c.sent:
		return p
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no packet sent within 10s", c.network)
		return sentPacket{}
	}
}

func (c *fakeConn) family() family {
	if c.network == NetworkRaw4 || c.network == NetworkDgram4 {
		return v4
	}
	return v6
}

// fakeClock is a manual clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// parseEcho parses an echo message written by the engine.
func parseEcho(t testing.TB, fam family, b []byte) *icmp.Echo {
	t.Helper()
	m, err := icmp.ParseMessage(fam.proto(), b)
	if err != nil {
		t.Fatalf("parse sent packet: %v", err)
	}
	e, ok := m.Body.(*icmp.Echo)
	if !ok {
		t.Fatalf("sent packet is %T, not an echo", m.Body)
	}
	return e
}

// marshal builds an ICMP message of family fam.
func marshal(t testing.TB, fam family, typ icmp.Type, code int, body icmp.MessageBody) []byte {
	t.Helper()
	b, err := (&icmp.Message{Type: typ, Code: code, Body: body}).Marshal(nil)
	if err != nil {
		t.Fatalf("marshal ICMP: %v", err)
	}
	return b
}

// replyTo builds the echo reply to echo request req, after edit changes it.
func replyTo(t testing.TB, fam family, req []byte, edit func(*icmp.Echo)) []byte {
	t.Helper()
	e := parseEcho(t, fam, req)
	if edit != nil {
		edit(e)
	}
	return marshal(t, fam, fam.echoReply(), 0, e)
}

// ipHeader builds the IP header of a packet from src to dst carrying
// payloadLen bytes of ICMP.
func ipHeader(t testing.TB, src, dst netip.Addr, payloadLen int) []byte {
	t.Helper()
	if src.Is4() {
		h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TotalLen: ipv4.HeaderLen + payloadLen, TTL: 64,
			Protocol: 1, Src: src.AsSlice(), Dst: dst.AsSlice()}
		b, err := h.Marshal()
		if err != nil {
			t.Fatalf("marshal IPv4 header: %v", err)
		}
		return b
	}
	// x/net/ipv6 has no header marshaller; the layout is fixed (RFC 8200).
	b := make([]byte, ipv6.HeaderLen)
	b[0] = 6 << 4
	binary.BigEndian.PutUint16(b[4:6], uint16(payloadLen))
	b[6], b[7] = 58, 64
	s16, d16 := src.As16(), dst.As16()
	copy(b[8:24], s16[:])
	copy(b[24:40], d16[:])
	return b
}

// icmpError builds an ICMP error of kind from router about the probe req
// sent from src to dst, quoting quoteLen bytes of the probe (-1: all).
func icmpError(t testing.TB, fam family, kind packetKind, code int, src, dst netip.Addr, req []byte, quoteLen int) []byte {
	t.Helper()
	if quoteLen >= 0 && quoteLen < len(req) {
		req = req[:quoteLen]
	}
	orig := append(ipHeader(t, src, dst, len(req)), req...)
	var typ icmp.Type
	var body icmp.MessageBody
	switch {
	case fam == v4 && kind == kindUnreachable:
		typ, body = ipv4.ICMPTypeDestinationUnreachable, &icmp.DstUnreach{Data: orig}
	case fam == v4 && kind == kindTimeExceeded:
		typ, body = ipv4.ICMPTypeTimeExceeded, &icmp.TimeExceeded{Data: orig}
	case fam == v4:
		typ, body = ipv4.ICMPTypeParameterProblem, &icmp.ParamProb{Data: orig}
	case kind == kindUnreachable:
		typ, body = ipv6.ICMPTypeDestinationUnreachable, &icmp.DstUnreach{Data: orig}
	case kind == kindTimeExceeded:
		typ, body = ipv6.ICMPTypeTimeExceeded, &icmp.TimeExceeded{Data: orig}
	default:
		typ, body = ipv6.ICMPTypeParameterProblem, &icmp.ParamProb{Data: orig}
	}
	return marshal(t, fam, typ, code, body)
}
