package store

import (
	"context"
	"database/sql"
	"errors"
	"net/netip"
)

// Canonical is the one spelling of an address that pmonitor stores and
// compares: an IPv4-mapped IPv6 address is its IPv4 address
// ("::ffff:127.0.0.2" is "127.0.0.2"), IPv6 is in its shortest form, and a
// zone is kept.
func Canonical(a netip.Addr) string { return a.Unmap().String() }

// CanonicalAddress is Canonical of the address spelled s, or s itself when
// s is no address (a row another program wrote, compared as it is).
func CanonicalAddress(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return Canonical(a)
}

// resolve returns the address of the registry row that address names, in
// whatever spelling: pmonitor stores canonical addresses, but another
// program may have written "::ffff:10.0.0.1" or "0:0::1". ok is false when
// no row matches.
func resolve(ctx context.Context, q queryer, address string) (stored string, ok bool, err error) {
	canon := CanonicalAddress(address)
	err = q.QueryRowContext(ctx, `SELECT address FROM targets WHERE address IN (?, ?) LIMIT 1`, canon, address).Scan(&stored)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return stored, err == nil, err
	}
	// The slow path, for rows spelled differently: one pass over the
	// addresses, only when the fast lookup missed.
	rows, err := q.QueryContext(ctx, `SELECT address FROM targets ORDER BY rowid`)
	if err != nil {
		return "", false, err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(&stored); err != nil {
			return "", false, err
		}
		if CanonicalAddress(stored) == canon {
			return stored, true, nil
		}
	}
	return "", false, rows.Err()
}
