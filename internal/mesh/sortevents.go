package mesh

import "slices"

// sortEvents orders events newest first; ties by source then target keep
// the order stable for tests and clients.
func sortEvents(evs []Event) {
	slices.SortStableFunc(evs, func(a, b Event) int {
		switch {
		case a.Time > b.Time:
			return -1
		case a.Time < b.Time:
			return 1
		case a.SourceAddress != b.SourceAddress:
			if a.SourceAddress < b.SourceAddress {
				return -1
			}
			return 1
		case a.TargetAddress < b.TargetAddress:
			return -1
		case a.TargetAddress > b.TargetAddress:
			return 1
		}
		return 0
	})
}
