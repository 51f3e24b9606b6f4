// Package timerfd is a one-shot timer on a Linux timerfd, read through the
// Go runtime's poller, for the timers of an agent that must cost nothing
// while it sleeps.
//
// A Go timer stopped or moved later stays in the runtime's heap until its
// old time and wakes the process then for nothing (the runtime's monitor
// thread, which sleeps until the next Go timer, as well as the poller). An
// idle agent moves its timers all the time: the probe deadline when a
// reply comes, the next burst when the target list changes. A timerfd
// disarmed or moved in the kernel wakes nobody.
package timerfd

import (
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Timer is a one-shot timer. Reset and Stop are safe for concurrent use
// with each other and with Wait; one goroutine waits at a time.
type Timer struct {
	f *os.File
	c chan struct{} // see Chan
}

// New returns a stopped timer. Close releases it.
func New() (*Timer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timer: timerfd_create: %w", err)
	}
	return &Timer{f: os.NewFile(uintptr(fd), "timerfd")}, nil
}

// Reset makes the timer fire once after d (at once if d <= 0), whether it
// was stopped, armed or fired.
func (t *Timer) Reset(d time.Duration) {
	t.set(unix.NsecToTimespec(max(d, 1).Nanoseconds()))
}

// Stop disarms the timer. An expiry not yet waited for stays pending.
func (t *Timer) Stop() { t.set(unix.Timespec{}) }

// set arms the timerfd; a closed timer is left alone.
func (t *Timer) set(v unix.Timespec) {
	rc, err := t.f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.TimerfdSettime(int(fd), 0, &unix.ItimerSpec{Value: v}, nil)
	})
}

// Wait blocks until the timer fires; it fails once the timer is closed.
//
// The read is a raw system call, made only once the poller says the timer
// fired: a regular one (os.File.Read) tells the Go runtime that a system
// call begins, which wakes its monitor thread (sysmon) from its deep sleep,
// and sysmon then polls every 20 µs for as long as the process stays busy.
// An idle agent wakes mostly for its timers; that wakeup alone must not
// wake a second thread.
func (t *Timer) Wait() error {
	rc, err := t.f.SyscallConn()
	if err != nil {
		return err
	}
	var b [8]byte // the number of expirations
	var rerr unix.Errno
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr = unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		return rerr != unix.EAGAIN
	})
	switch {
	case err != nil:
		return fmt.Errorf("timer: %w", os.ErrClosed) // the poller fails a closed file only
	case rerr != 0:
		return fmt.Errorf("timer: read: %w", rerr)
	}
	return nil
}

// Chan starts a goroutine that waits for the timer and signals each expiry
// on the returned channel (one pending signal at most), until Close. It is
// for loops that select on other channels too; call it once.
func (t *Timer) Chan() <-chan struct{} {
	t.c = make(chan struct{}, 1)
	go func() {
		for t.Wait() == nil {
			select {
			case t.c <- struct{}{}:
			default:
			}
		}
	}()
	return t.c
}

// Close releases the timer and ends a Wait (and the goroutine of Chan).
func (t *Timer) Close() error { return t.f.Close() }
