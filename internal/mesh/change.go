package mesh

import (
	"os"
	"time"
)

// A tick reads a database only when it may have changed since the last
// read: a stopped agent's file, or any file of a deployment that idles,
// costs two stat calls a tick instead of a transaction and every row.
//
// The test is the file's size and modification time and those of its
// write-ahead log (SQLite commits into the -wal file and checkpoints into
// the database). A write in the same clock tick as the previous one can
// keep both unchanged, so, as git does with its index, a signature is
// trusted only when it was taken well after the newest modification it
// saw: any later write then carries a later time.

// racyWindow is how long after a file's modification its signature is not
// trusted: beyond the kernel's coarse clock that stamps files (a jiffy, 1
// to 10 ms) on filesystems with sub-second times, and beyond the 1-2 s
// times of the others (whole seconds tell them apart). Agents commit about
// every two seconds: with the short window a tick reads about half of
// their files, with a 2 s one it would read them all.
const (
	racyWindow       = 50 * time.Millisecond
	racyWindowCoarse = 2 * time.Second
)

// fileSig is what a stat of a database and its write-ahead log tells.
type fileSig struct {
	db, wal  os.FileInfo // wal nil when there is none
	takenAt  time.Time   // when the stat was made (before the read it vouches for)
	complete bool        // both stats made
}

// statSig takes the signature of the database at path.
func statSig(path string, now time.Time) fileSig {
	s := fileSig{takenAt: now}
	fi, err := os.Stat(path)
	if err != nil {
		return s
	}
	s.db = fi
	if wi, err := os.Stat(path + "-wal"); err == nil {
		s.wal = wi
	} else if !os.IsNotExist(err) {
		return s
	}
	s.complete = true
	return s
}

// newest is the latest modification time the signature saw.
func (s fileSig) newest() time.Time {
	t := s.db.ModTime()
	if s.wal != nil && s.wal.ModTime().After(t) {
		t = s.wal.ModTime()
	}
	return t
}

// unchanged reports whether cur proves that the file holds what it held
// when prev was taken (and read right after).
func (prev fileSig) unchanged(cur fileSig) bool {
	if !prev.complete || !cur.complete {
		return false
	}
	window := racyWindow
	if prev.db.ModTime().Nanosecond() == 0 || prev.wal != nil && prev.wal.ModTime().Nanosecond() == 0 {
		window = racyWindowCoarse
	}
	if prev.takenAt.Sub(prev.newest()) < window {
		return false // modified too close to the read: a later write may share its time
	}
	return sameStat(prev.db, cur.db) && sameStat(prev.wal, cur.wal)
}

func sameStat(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
