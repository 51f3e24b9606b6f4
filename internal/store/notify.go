package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Notifier is implemented by registries that announce when they may have
// changed, so that an agent calls Changed only then (and on a slow safety
// poll) instead of several times a second.
type Notifier interface {
	// Changes returns a channel that receives a value soon after the
	// registry may have changed: a commit by anyone (this process
	// included), the file replaced or deleted. A value may come for
	// nothing; Changed tells. Values come at most once per NotifyQuiet, the
	// first one at once. The channel stays open (and silent) after Close.
	// An error means the registry cannot announce changes (no inotify
	// instance left, say): poll Changed instead.
	Changes() (<-chan struct{}, error)
}

// fileNotifier watches an SQLite database file and its write-ahead log
// with inotify. In WAL mode every commit appends to the -wal file and a
// checkpoint writes the database file, so together they see every change,
// while readers (which touch only the -shm file) wake nobody. It watches the
// two files, never their directory: a lab keeps a thousand working
// databases and logs next to the registry, all written all the time.
//
// A watch ends when its file is deleted or replaced; the notifier then
// signals, and the registry's next Changed reports ErrRegistryGone so that
// the owner reopens it (with a new notifier).
//
// Every agent on a registry commits its heartbeat there, and every commit
// wakes every notifier: signals are at least NotifyQuiet apart, so that a
// burst of commits costs each agent a few looks, not one per commit (the
// kernel keeps the events meanwhile).
type fileNotifier struct {
	path     string
	f        *os.File // the inotify instance, read through the runtime's poller
	c        chan struct{}
	quiet    time.Duration
	quit     chan struct{} // closed by Close: ends a quiet period
	quitOnce sync.Once
	done     chan struct{} // closed when the reading goroutine has returned

	mu        sync.Mutex
	wal       int  // watch descriptor of the -wal file; -1 while it has none
	fromEvent bool // the last signal came from file events, and no look has answered it yet
}

// notifySettle is how long after a look that found no new commit the
// notifier signals once more. inotify reports the write of a commit's
// frames to the -wal; the commit becomes visible only when the writer then
// updates the shared WAL index (-shm, not watched), so a look that runs in
// between sees nothing new, and no later event would come for that commit.
const notifySettle = 100 * time.Millisecond

// NotifyQuiet is the shortest time between two signals of a file
// registry's Changes: short enough that a stop or an edit reaches an agent
// within a second, long enough that other agents' heartbeats do not keep
// it awake.
const NotifyQuiet = 500 * time.Millisecond

// notifyMask: content changes, and the events that end a file's life
// under this name (a rename over it changes its link count: IN_ATTRIB).
const notifyMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// newFileNotifier starts watching the database at path and its -wal file
// (if there is none yet, it is watched once it appears: see refresh).
func newFileNotifier(path string, quiet time.Duration) (*fileNotifier, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("watch %s: inotify: %w (see fs.inotify.max_user_instances)", path, err)
	}
	n := &fileNotifier{
		path: path, f: os.NewFile(uintptr(fd), "inotify"), quiet: quiet,
		c: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}), wal: -1,
	}
	if _, err := unix.InotifyAddWatch(fd, path, notifyMask); err != nil {
		n.f.Close()
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	n.refresh()
	go n.read()
	return n, nil
}

// refresh watches the -wal file if it is not watched yet and exists now.
// The owner calls it on its safety poll; events on the database call it too.
func (n *fileNotifier) refresh() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.wal >= 0 {
		return
	}
	var wd int
	err := n.withFd(func(fd int) (err error) {
		wd, err = unix.InotifyAddWatch(fd, n.path+"-wal", notifyMask)
		return err
	})
	if err == nil {
		n.wal = wd
	}
}

// withFd runs fn with the inotify descriptor, unless it is closed.
func (n *fileNotifier) withFd(fn func(fd int) error) error {
	rc, err := n.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// read turns inotify events into signals on n.c until Close, at most one
// per quiet period.
func (n *fileNotifier) read() {
	defer close(n.done)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	pause := time.NewTimer(time.Hour)
	pause.Stop()
	defer pause.Stop()
	var last time.Time // when the last signal went out
	for {
		k, err := n.f.Read(buf)
		if err != nil {
			return // closed (errors.Is(err, os.ErrClosed)), or broken: the safety poll remains
		}
		walGone := false
		for off := 0; off+unix.SizeofInotifyEvent <= k; {
			wd := int(int32(binary.NativeEndian.Uint32(buf[off:])))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			off += unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[off+12:]))
			n.mu.Lock()
			if wd == n.wal && mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 {
				n.wal, walGone = -1, true // deleted when the last connection closed; watched again when back
			}
			n.mu.Unlock()
		}
		if !walGone {
			n.refresh()
		}
		if wait := n.quiet - time.Since(last); wait > 0 {
			// The last signal went out less than quiet ago: this one waits,
			// and the events meanwhile stay in the kernel, read as one
			// batch afterwards. A lone commit is signalled at once, with
			// no timer.
			pause.Reset(wait)
			select {
			case <-pause.C:
			case <-n.quit:
				return
			}
		}
		n.signal(true)
		last = time.Now()
	}
}

// signal sends one value on n.c unless one is pending already.
func (n *fileNotifier) signal(fromEvent bool) {
	n.mu.Lock()
	n.fromEvent = fromEvent
	n.mu.Unlock()
	select {
	case n.c <- struct{}{}:
	default: // one pending signal says it all
	}
}

// looked is told the result of a look at the database: whether a new
// commit was visible. A look that answered file events and found nothing
// new may have come before the commit was published: signal once more
// after notifySettle (once: the second look's answer does not repeat it).
func (n *fileNotifier) looked(moved bool) {
	n.mu.Lock()
	again := n.fromEvent && !moved
	n.fromEvent = false
	n.mu.Unlock()
	if again {
		time.AfterFunc(notifySettle, func() {
			select {
			case <-n.quit: // closed: the channel stays silent
			default:
				n.signal(false)
			}
		})
	}
}

// Close stops watching and waits for the reading goroutine. It may be
// called again.
func (n *fileNotifier) Close() error {
	n.quitOnce.Do(func() { close(n.quit) })
	err := n.f.Close()
	<-n.done
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("stop watching %s: %w", n.path, err)
	}
	return nil
}
