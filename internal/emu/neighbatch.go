package emu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// neighWriter adds permanent neighbour entries through one rtnetlink socket
// opened inside a host's namespace, many requests per sendmsg. A full mesh
// of 1,000 hosts needs 999,000 entries: one request and one acknowledgement
// each (netlink.NeighSet) cost about 15 µs an entry, mostly in the two
// system calls; batched, the kernel handles a whole buffer of requests in
// one call and acknowledges only the last one (and any that fail).
type neighWriter struct {
	fd    int
	buf   []byte
	last  int                   // offset of the last request in buf
	first uint32                // sequence number of the first request in buf
	seq   uint32                // of the last request added
	dsts  map[uint32]netip.Addr // by sequence number: names a failed request
}

// neighBatchBytes bounds a batch well below the socket's default send
// buffer (wmem_default, 208 KiB), which limits one netlink message buffer.
const neighBatchBytes = 64 << 10

// openNeighWriter opens the writer's socket inside the namespace at nsPath:
// a netlink socket belongs to the namespace it was created in.
func openNeighWriter(nsPath string) (*neighWriter, error) {
	fd := -1
	err := inNetns(nsPath, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	// Failures come back without the request (only its header), and a
	// kernel that stops answering cannot hang the caller.
	if err := errors.Join(
		unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1),
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 30}),
		unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}),
	); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set up rtnetlink socket: %w", err)
	}
	return &neighWriter{fd: fd, first: 1, dsts: map[uint32]netip.Addr{}}, nil
}

// close closes the socket; requests not flushed are dropped.
func (w *neighWriter) close() { unix.Close(w.fd) }

// add queues a permanent entry: dst is at mac on the link ifindex. It
// flushes when the batch is full.
func (w *neighWriter) add(ifindex int, dst netip.Addr, mac net.HardwareAddr) error {
	w.seq++
	w.dsts[w.seq] = dst
	w.last = len(w.buf)
	w.buf = appendNeighRequest(w.buf, w.seq, ifindex, dst, mac)
	if len(w.buf) >= neighBatchBytes {
		return w.flush()
	}
	return nil
}

// appendNeighRequest appends an RTM_NEWNEIGH request (create or replace,
// NUD_PERMANENT) to b.
func appendNeighRequest(b []byte, seq uint32, ifindex int, dst netip.Addr, mac net.HardwareAddr) []byte {
	ne := binary.NativeEndian
	fam := uint8(unix.AF_INET)
	if dst.Is6() {
		fam = unix.AF_INET6
	}
	ip := dst.AsSlice()
	size := unix.SizeofNlMsghdr + unix.SizeofNdMsg + nlaSize(len(ip)) + nlaSize(len(mac))
	b = ne.AppendUint32(b, uint32(size))
	b = ne.AppendUint16(b, unix.RTM_NEWNEIGH)
	b = ne.AppendUint16(b, unix.NLM_F_REQUEST|unix.NLM_F_CREATE|unix.NLM_F_REPLACE)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0) // port id: the kernel's
	b = append(b, fam, 0, 0, 0)
	b = ne.AppendUint32(b, uint32(int32(ifindex)))
	b = ne.AppendUint16(b, unix.NUD_PERMANENT)
	b = append(b, 0, 0) // flags, type
	b = appendAttr(b, unix.NDA_DST, ip)
	return appendAttr(b, unix.NDA_LLADDR, mac)
}

// nlaSize is the aligned size of an attribute with n bytes of data.
func nlaSize(n int) int {
	return (unix.SizeofNlAttr + n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1)
}

func appendAttr(b []byte, typ uint16, data []byte) []byte {
	ne := binary.NativeEndian
	b = ne.AppendUint16(b, uint16(unix.SizeofNlAttr+len(data)))
	b = ne.AppendUint16(b, typ)
	b = append(b, data...)
	for range nlaSize(len(data)) - unix.SizeofNlAttr - len(data) {
		b = append(b, 0)
	}
	return b
}

// flush sends the queued requests, the last one asking for an
// acknowledgement, and reads the answers up to that acknowledgement. It
// returns the first failure, naming its destination.
func (w *neighWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	// The last request asks for the acknowledgement that ends the batch
	// (nlmsghdr: length, type, then the flags at offset 6).
	flags := binary.NativeEndian.Uint16(w.buf[w.last+6:])
	binary.NativeEndian.PutUint16(w.buf[w.last+6:], flags|unix.NLM_F_ACK)
	defer func() {
		w.buf = w.buf[:0]
		clear(w.dsts)
		w.first = w.seq + 1
	}()
	if err := unix.Sendto(w.fd, w.buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send %d neighbour requests: %w", w.seq-w.first+1, err)
	}
	var first error
	rb := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(w.fd, rb, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read neighbour acknowledgements: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(rb[:n])
		if err != nil {
			return fmt.Errorf("parse neighbour acknowledgements: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 && first == nil {
				first = fmt.Errorf("neighbour %s: %w", w.dsts[m.Header.Seq], unix.Errno(errno))
			}
			if m.Header.Seq == w.seq {
				return first
			}
		}
	}
}
