package procstat

import (
	"os"
	"testing"
	"time"
)

func TestSelf(t *testing.T) {
	u, s := CPU(os.Getpid())
	for x, start := 0, time.Now(); u+s == 0 && time.Since(start) < 5*time.Second; x++ {
		if x%1000000 == 0 { // burn CPU until a tick (10 ms) shows
			u, s = CPU(os.Getpid())
		}
	}
	if u+s <= 0 {
		t.Errorf("CPU(self) = %v + %v, want some", u, s)
	}
	rss, pss := RSS(os.Getpid()), PSS(os.Getpid())
	if rss <= 0 || pss <= 0 {
		t.Errorf("RSS(self) = %d KiB, PSS(self) = %d KiB; want both", rss, pss)
	}
	if u, s := CPU(-1); u != 0 || s != 0 || RSS(-1) != 0 || PSS(-1) != 0 {
		t.Error("a missing process has figures")
	}
}

func TestMachine(t *testing.T) {
	if Meminfo("MemTotal") <= 0 || Meminfo("Slab") <= 0 {
		t.Errorf("Meminfo: MemTotal %d, Slab %d KiB", Meminfo("MemTotal"), Meminfo("Slab"))
	}
	if Meminfo("NoSuchField") != 0 {
		t.Error("Meminfo of a missing field is not zero")
	}
	busy, softirq := Busy()
	if busy <= 0 || softirq < 0 || softirq > busy {
		t.Errorf("Busy() = %v, softirq %v", busy, softirq)
	}
}
