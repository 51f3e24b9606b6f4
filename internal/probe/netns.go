package probe

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// inNetns runs fn on an OS thread that has entered the network namespace at
// path, then moves the thread back. Sockets created by fn belong to that
// namespace for their whole life. An empty path runs fn in place.
//
// fn runs on a fresh goroutine locked to its thread; if the thread cannot be
// moved back it stays locked, so the runtime discards it when the goroutine
// exits and no other goroutine ever runs in the wrong namespace.
func inNetns(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- runLocked(path, fn)
	}()
	return <-errc
}

// runLocked does the work of inNetns on a locked thread and unlocks it only
// when the thread is back in its original namespace.
func runLocked(path string, fn func() error) error {
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get current network namespace: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromPath(path)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace %s: %w", path, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it dies with this goroutine.
		return fmt.Errorf("leave network namespace %s: %w", path, err)
	}
	runtime.UnlockOSThread()
	return ferr
}
