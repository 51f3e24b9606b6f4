package probe

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The engine's sockets are read and written with raw system calls, made
// only when the poller says they will not block. A regular system call
// (syscall.Syscall, which os, net and x/net use) tells the Go runtime that
// the goroutine may block: it wakes the runtime's monitor thread (sysmon)
// from its deep sleep, and sysmon then looks every 20 µs for as long as the
// process is busy. With one P (a light agent), sysmon also takes the P from
// any system call that spans one of its looks, and hands it to a second
// thread that wakes only to find nothing to do. A send to an emulated host
// lasts that long: the kernel carries the probe and its reply through two
// namespaces within the call. Measured on an idle agent, that monitor
// thread and its hand-offs cost more than the probes themselves.

// rawSendto is sendto(2) on the non-blocking socket fd, as a raw system
// call: b to the socket address sa of length salen.
func rawSendto(fd uintptr, b []byte, sa unsafe.Pointer, salen uintptr) unix.Errno {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(p), uintptr(len(b)), 0, uintptr(sa), salen)
	return e
}

// mmsghdr is struct mmsghdr of recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [unsafe.Sizeof(uintptr(0)) - 4]byte
}

// batchReader reads up to len(hs) packets per recvmmsg(2) from a real
// socket, with their control messages and senders. Only the receiver
// goroutine uses it.
type batchReader struct {
	hs    []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // room for either family
	bufs  [][]byte
	oobs  [][]byte
	n     int
	errno unix.Errno
	fn    func(fd uintptr) bool
}

func newBatchReader(size, bufSize, oobSize int) *batchReader {
	r := &batchReader{
		hs: make([]mmsghdr, size), iovs: make([]unix.Iovec, size), names: make([]unix.RawSockaddrInet6, size),
		bufs: make([][]byte, size), oobs: make([][]byte, size),
	}
	for i := range size {
		r.bufs[i], r.oobs[i] = make([]byte, bufSize), make([]byte, oobSize)
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(bufSize)
	}
	r.fn = func(fd uintptr) bool {
		for i := range r.hs {
			h := &r.hs[i].hdr
			h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
			h.Namelen = unix.SizeofSockaddrInet6
			h.Iov = &r.iovs[i]
			h.SetIovlen(1)
			h.Control = &r.oobs[i][0]
			h.SetControllen(len(r.oobs[i]))
			h.Flags = 0
			r.hs[i].len = 0
		}
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hs[0])), uintptr(len(r.hs)),
			unix.MSG_DONTWAIT, 0, 0)
		for e == unix.EINTR {
			n, _, e = unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hs[0])), uintptr(len(r.hs)),
				unix.MSG_DONTWAIT, 0, 0)
		}
		if e == unix.EAGAIN {
			return false // nothing queued: wait for the poller
		}
		r.n, r.errno = 0, e
		if e == 0 {
			r.n = int(n)
		}
		return true
	}
	return r
}

// packet returns the data, control messages and sender of packet i of
// the last read.
func (r *batchReader) packet(i int) (data, oob []byte, from netip.Addr) {
	h := &r.hs[i]
	data = r.bufs[i][:min(int(h.len), len(r.bufs[i]))]
	oob = r.oobs[i][:min(int(h.hdr.Controllen), len(r.oobs[i]))]
	switch sa := &r.names[i]; sa.Family {
	case unix.AF_INET:
		from = netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr)
	case unix.AF_INET6:
		from = netip.AddrFrom16(sa.Addr).Unmap()
	}
	return data, oob, from
}
