package emu

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where named network namespaces are bind-mounted, as by
// 'ip netns add' (/var/run is a symlink to /run).
const netnsDir = "/run/netns"

// pingGroupRange lets every group open unprivileged ICMP datagram sockets.
const pingGroupRange = "0 2147483647"

// onThreadIn runs fn on a new goroutine locked to its OS thread, switched
// into the network namespace that enter returns (enter runs on that thread,
// so it may also create the namespace). The thread is switched back
// afterwards; if that fails it stays locked and the runtime discards it when
// the goroutine ends, so no other goroutine ever runs in the wrong namespace.
// A panic in fn is re-raised in the caller.
func onThreadIn(enter func() (netns.NsHandle, error), fn func() error) error {
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.panic = p
			}
			done <- r
		}()
		orig, err := netns.Get()
		if err != nil {
			r.err = fmt.Errorf("get current netns: %w", err)
			runtime.UnlockOSThread()
			return
		}
		defer orig.Close()
		target, err := enter()
		if target.IsOpen() {
			defer target.Close()
		}
		if err == nil {
			err = netns.Set(target)
		}
		if err == nil {
			func() {
				defer func() {
					if p := recover(); p != nil {
						r.panic = p
					}
				}()
				err = fn()
			}()
		}
		r.err = err
		if serr := netns.Set(orig); serr != nil {
			// Keep the thread locked: it dies with this goroutine.
			r.err = errors.Join(r.err, fmt.Errorf("restore netns: %w", serr))
			return
		}
		runtime.UnlockOSThread()
	}()
	r := <-done
	if r.panic != nil {
		panic(r.panic)
	}
	return r.err
}

// inNetns runs fn on a locked OS thread inside the namespace at path.
func inNetns(path string, fn func() error) error {
	return onThreadIn(func() (netns.NsHandle, error) {
		ns, err := netns.GetFromPath(path)
		if err != nil {
			return ns, fmt.Errorf("open netns %s: %w", path, err)
		}
		return ns, nil
	}, fn)
}

// createNetns creates the named network namespace (bind-mounted under
// netnsDir), marks it with mark as the alias of its "lo", brings lo up and
// sets the per-namespace sysctls. IPv6 is disabled on interfaces created
// later (eth0) unless ipv6 is set, which keeps IPv6 chatter (router
// solicitations, MLD) off the emulated segment.
func createNetns(name string, mark owner, ipv6 bool) error {
	if err := shareNetnsDir(); err != nil {
		return err
	}
	created := false
	err := onThreadIn(func() (netns.NsHandle, error) {
		// NewNamed unshares this thread into a fresh namespace.
		ns, err := netns.NewNamed(name)
		if err != nil {
			return ns, fmt.Errorf("create netns %s: %w", name, err)
		}
		created = true
		return ns, nil
	}, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return fmt.Errorf("find lo: %w", err)
		}
		if err := netlink.LinkSetAlias(lo, mark.String()); err != nil {
			return fmt.Errorf("mark lo: %w", err)
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return fmt.Errorf("set lo up: %w", err)
		}
		if err := writeSysctl("net/ipv4/ping_group_range", pingGroupRange); err != nil {
			return err
		}
		if !ipv6 {
			return disableIPv6("default")
		}
		return nil
	})
	if err != nil && created {
		if derr := deleteNetns(name); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	return err
}

// deleteNetns unmounts and removes a named namespace; a missing one is not
// an error. The namespace itself lives on while processes are inside.
func deleteNetns(name string) error {
	p := netnsPath(name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount netns %s: %w", name, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns %s: %w", name, err)
	}
	return nil
}

// writeSysctl writes a /proc/sys value; under /proc/sys/net the value
// belongs to the network namespace of the calling thread.
func writeSysctl(key, value string) error {
	if err := os.WriteFile("/proc/sys/"+key, []byte(value), 0); err != nil {
		return fmt.Errorf("set sysctl %s: %w", key, err)
	}
	return nil
}

// disableIPv6 sets disable_ipv6 for conf (an interface name or "default")
// in the calling thread's namespace; a kernel without IPv6 needs nothing.
func disableIPv6(conf string) error {
	err := writeSysctl("net/ipv6/conf/"+conf+"/disable_ipv6", "1")
	if _, serr := os.Stat("/proc/sys/net/ipv6"); err != nil && errors.Is(serr, os.ErrNotExist) {
		return nil
	}
	return err
}

// shareNetnsDir makes netnsDir a mount point with shared propagation, as
// iproute2's 'ip netns add' does before its first namespace. Without it, the
// first 'ip netns add' on the machine (Mininet, an operator, another tool)
// bind-mounts netnsDir over itself while our namespaces are mounted in it:
// their mounts end up hidden below, and neither Close nor Cleanup can
// unmount or remove them any more (umount: not mounted; unlink: EBUSY).
func shareNetnsDir() error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", netnsDir, err)
	}
	err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		if err := unix.Mount(netnsDir, netnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mount %s: %w", netnsDir, err)
		}
		err = unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("share %s: %w", netnsDir, err)
	}
	return nil
}
