package postgres

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// nanos is how a time is stored: Unix nanoseconds, with 0 for the zero time
// (as in the SQLite store; an instant exactly at the Unix epoch therefore
// reads back as the zero time, and tokend has no use for that instant).
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// timeCol scans a bigint column written by nanos into a time.Time in UTC.
type timeCol struct{ t *time.Time }

var errNull = errors.New("unexpected NULL")

// ScanInt64 implements pgtype.Int64Scanner.
func (c timeCol) ScanInt64(v pgtype.Int8) error {
	switch {
	case !v.Valid:
		return errNull
	case v.Int64 == 0:
		*c.t = time.Time{}
	default:
		*c.t = time.Unix(0, v.Int64).UTC()
	}
	return nil
}

// durCol scans a bigint column of nanoseconds into a time.Duration. (pgx
// would read a time.Duration as an interval.)
type durCol struct{ d *time.Duration }

// ScanInt64 implements pgtype.Int64Scanner.
func (c durCol) ScanInt64(v pgtype.Int8) error {
	if !v.Valid {
		return errNull
	}
	*c.d = time.Duration(v.Int64)
	return nil
}

// list is how a string slice is stored: a text[], empty (never NULL) when
// the slice is.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// nilIfEmpty reads a stored list back: an empty list as nil.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// blob is how a byte slice is stored: NULL when empty, so that an empty
// slice reads back as nil.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
