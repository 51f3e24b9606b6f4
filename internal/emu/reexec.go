package emu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Running a program inside a namespace. Go's SysProcAttr cannot join an
// existing network namespace, and setns in the parent affects only one
// thread. So Host.Command starts this very binary (/proc/self/exe) with the
// namespace and the real program in the environment; MaybeReexec, first
// thing in main, sees them, switches its (locked) thread into the namespace
// and execve's the program from that thread: the new program starts in the
// namespace, with the pid, argv, files and signals the caller's Cmd expects.
const (
	envNetns = "PMONITOR_NETNS_EXEC"      // namespace path
	envProg  = "PMONITOR_NETNS_EXEC_PROG" // absolute path of the program
)

// reexecReady records that this binary calls MaybeReexec, so Host.Command
// can refuse to start a binary that would ignore the request (a test binary
// without TestMain would run all its tests again). It is the package's only
// variable, set once at startup.
var reexecReady atomic.Bool

// MaybeReexec must be called first thing in main and in TestMain of test
// packages that use Host.Command. In a process started by Host.Command it
// never returns: it executes the requested program inside the namespace, or
// prints an error and exits with status 127. Otherwise it returns at once.
func MaybeReexec() {
	reexecReady.Store(true)
	nsPath, ok := os.LookupEnv(envNetns)
	if !ok {
		return
	}
	prog := os.Getenv(envProg)
	err := execInNetns(nsPath, prog, os.Args, cleanEnv(os.Environ()))
	fmt.Fprintf(os.Stderr, "pmonitor: run %s in netns %s: %v\n", prog, nsPath, err)
	os.Exit(127)
}

// execInNetns replaces the process by prog, started inside the namespace at
// nsPath. It returns only on error.
func execInNetns(nsPath, prog string, argv, env []string) error {
	if prog == "" {
		return errors.New("no program (" + envProg + " unset)")
	}
	// Never unlocked: the process is replaced or exits. The thread switches
	// namespaces and execve keeps the calling thread's namespaces.
	runtime.LockOSThread()
	fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns: %w", err)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns: %w", err)
	}
	unix.Close(fd)
	return syscall.Exec(prog, argv, env)
}

// cleanEnv returns env without the re-exec variables, so that the program
// and its children are not affected by them.
func cleanEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, envNetns+"=") && !strings.HasPrefix(kv, envProg+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// Command returns a Cmd that runs program name with args inside the host's
// network namespace (only the network namespace: the file system, /sys and
// /etc are the caller's). name is resolved with the caller's PATH, as by
// exec.CommandContext, whose ctx handling (kill on cancel) it keeps. The
// Cmd's Path is /proc/self/exe and its Env carries the request, so add to
// cmd.Env rather than replacing it; Args, Dir, Stdin/Stdout/Stderr,
// SysProcAttr and the process's pid are the program's. The calling binary
// must call MaybeReexec at start (otherwise Start returns an error).
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	if cmd.Err != nil {
		return cmd
	}
	if !reexecReady.Load() {
		cmd.Err = errors.New("emu: Host.Command needs emu.MaybeReexec() at the start of main or TestMain")
		return cmd
	}
	prog, err := filepath.Abs(cmd.Path)
	if err != nil {
		cmd.Err = fmt.Errorf("resolve %s: %w", name, err)
		return cmd
	}
	cmd.Path = "/proc/self/exe"
	cmd.Env = append(cleanEnv(os.Environ()), envNetns+"="+h.NetnsPath(), envProg+"="+prog)
	return cmd
}

// Do runs fn on an OS thread switched into the host's network namespace
// and switches the thread back afterwards. Sockets fn opens stay in the
// namespace for their whole life, so Do is the way to listen or dial from a
// host. fn runs on another goroutine (do not call t.FailNow in it); goroutines
// it starts do not inherit the namespace. A panic in fn is re-raised.
func (h *Host) Do(fn func() error) error {
	if h.net.isClosed() {
		return ErrClosed
	}
	return inNetns(h.NetnsPath(), fn)
}
