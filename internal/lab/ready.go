package lab

import (
	"bytes"
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
)

// readyGate lets the lab start agents as fast as the machine takes them: at
// most its capacity are starting at a time, and an agent's slot frees when
// it reports READY=1 on the lab's notify socket (the service-manager
// protocol the monitor command speaks, sd_notify) or when it exits. A
// thousand agents, each opening its databases and applying 999 targets
// (tens of milliseconds of CPU), started at a fixed 15 ms gap took the
// machine's two cores just to start, and the first ones' probes then
// starved the rest.
type readyGate struct {
	conn  *net.UnixConn // nil: no socket, the gate only bounds nothing
	path  string
	slots chan struct{}

	mu      sync.Mutex
	waiting map[int]chan struct{} // by pid: closed on READY=1
	done    chan struct{}         // closed when the reader returns
}

// startingAgents is how many agents may be starting at once: enough to
// keep every core busy while others wait on their disks.
func startingAgents() int { return 2 * runtime.GOMAXPROCS(0) }

// newReadyGate listens on a notify socket in dir. A path too long for a
// Unix socket leaves the gate open (starts are then paced by StartSpread
// only).
func newReadyGate(dir string, capacity int) *readyGate {
	g := &readyGate{slots: make(chan struct{}, capacity), waiting: map[int]chan struct{}{}, done: make(chan struct{})}
	path := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		close(g.done)
		return g
	}
	g.conn, g.path = conn, path
	go g.read()
	return g
}

// env is the environment entry that points an agent at the gate's socket.
func (g *readyGate) env() []string {
	if g.conn == nil {
		return nil
	}
	return []string{"NOTIFY_SOCKET=" + g.path}
}

// acquire takes a starting slot; it returns false if stop closed first.
func (g *readyGate) acquire(stop <-chan struct{}) bool {
	select {
	case g.slots <- struct{}{}:
		return true
	case <-stop:
		return false
	}
}

// started hands the slot to the agent with pid: it frees on its READY=1 or
// when exited closes.
func (g *readyGate) started(pid int, exited <-chan struct{}) {
	if g.conn == nil {
		<-g.slots
		return
	}
	ready := make(chan struct{})
	g.mu.Lock()
	g.waiting[pid] = ready
	g.mu.Unlock()
	go func() {
		select {
		case <-ready:
		case <-exited:
		case <-g.done:
		}
		g.mu.Lock()
		delete(g.waiting, pid)
		g.mu.Unlock()
		<-g.slots
	}()
}

// release frees a slot taken by acquire for an agent that did not start.
func (g *readyGate) release() { <-g.slots }

// read turns READY=1 datagrams into closed ready channels until Close.
func (g *readyGate) read() {
	defer close(g.done)
	buf := make([]byte, 4096)
	for {
		n, err := g.conn.Read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		pid, ok := readyPID(buf[:n])
		if !ok {
			continue
		}
		g.mu.Lock()
		if c, found := g.waiting[pid]; found {
			close(c)
			delete(g.waiting, pid)
		}
		g.mu.Unlock()
	}
}

// readyPID parses an sd_notify datagram: the MAINPID of a READY=1 message.
func readyPID(msg []byte) (int, bool) {
	ready, pid := false, 0
	for _, line := range bytes.Split(msg, []byte("\n")) {
		k, v, _ := bytes.Cut(line, []byte("="))
		switch string(k) {
		case "READY":
			ready = string(v) == "1"
		case "MAINPID":
			pid, _ = strconv.Atoi(string(v))
		}
	}
	return pid, ready && pid > 0
}

// Close stops listening; agents still starting free their slots.
func (g *readyGate) Close() {
	if g.conn != nil {
		g.conn.Close()
		<-g.done
	}
}
