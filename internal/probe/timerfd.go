package probe

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// deadlineTimer is the engine's deadline timer: a Linux timerfd read
// through the runtime's poller. A Go timer that is stopped or moved later
// stays in the runtime's timer heap until it reaches its old time, and
// wakes the process then for nothing; an idle agent's probes are nearly
// all answered, so that would be one useless wakeup per probe. A timerfd
// disarmed or moved in the kernel wakes nobody.
type deadlineTimer struct {
	f *os.File
}

func newDeadlineTimer() (*deadlineTimer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("deadline timer: timerfd_create: %w", err)
	}
	return &deadlineTimer{f: os.NewFile(uintptr(fd), "timerfd")}, nil
}

// Reset makes the timer fire once after d (at once if d <= 0).
func (t *deadlineTimer) Reset(d time.Duration) {
	t.set(unix.NsecToTimespec(max(d, 1).Nanoseconds()))
}

// Stop disarms the timer.
func (t *deadlineTimer) Stop() { t.set(unix.Timespec{}) }

// set arms the timerfd; a closed timer (the engine closing) is left alone.
func (t *deadlineTimer) set(v unix.Timespec) {
	rc, err := t.f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.TimerfdSettime(int(fd), 0, &unix.ItimerSpec{Value: v}, nil)
	})
}

// wait blocks until the timer fires; it fails once the timer is closed.
func (t *deadlineTimer) wait() error {
	var b [8]byte // the number of expirations
	_, err := t.f.Read(b[:])
	return err
}

// Close releases the timer and ends a wait.
func (t *deadlineTimer) Close() error { return t.f.Close() }
