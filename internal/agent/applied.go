package agent

import (
	"crypto/sha256"
	"strconv"

	"github.com/pmonitor/pmonitor/internal/store"
)

// appliedList remembers the target list last applied by its digest: the
// list itself (a hundred bytes a target) is only ever compared with the
// next one, and a thousand agents on one machine would each keep a copy.
type appliedList struct {
	key [sha256.Size]byte
	n   int
}

// listKey digests what applyTargets installs of each target, in order:
// address, name and stable. Names may hold any byte, so each field is
// length-prefixed.
func listKey(ts []store.Target) [sha256.Size]byte {
	h := sha256.New()
	var b []byte
	for _, t := range ts {
		b = b[:0]
		b = strconv.AppendInt(b, int64(len(t.Address)), 10)
		b = append(b, ':')
		b = append(b, t.Address...)
		b = strconv.AppendInt(b, int64(len(t.Name)), 10)
		b = append(b, ':')
		b = append(b, t.Name...)
		b = strconv.AppendBool(b, t.Stable)
		h.Write(b)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}
