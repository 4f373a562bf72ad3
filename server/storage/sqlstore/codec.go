package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"
)

// Nanos is how a time is stored: Unix nanoseconds, with 0 for the zero
// time. (An instant exactly at the Unix epoch therefore reads back as the
// zero time; tokend has no use for that instant.)
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// timeCol scans an integer column written by Nanos into a time.Time in
// UTC.
type timeCol struct{ t *time.Time }

// Scan implements sql.Scanner (which pgx honours too).
func (c timeCol) Scan(src any) error {
	n, ok := src.(int64)
	if !ok {
		return fmt.Errorf("time column holds %T", src)
	}
	if n == 0 {
		*c.t = time.Time{}
	} else {
		*c.t = time.Unix(0, n).UTC()
	}
	return nil
}

// durCol scans an integer column of nanoseconds into a time.Duration.
// (pgx would read a time.Duration as an interval.)
type durCol struct{ d *time.Duration }

// Scan implements sql.Scanner.
func (c durCol) Scan(src any) error {
	n, ok := src.(int64)
	if !ok {
		return fmt.Errorf("duration column holds %T", src)
	}
	*c.d = time.Duration(n)
	return nil
}

// Blob is how a byte slice is stored: NULL when empty, so that an empty
// slice reads back as nil.
func Blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nilIfEmpty reads a stored list back: an empty list as nil.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// list is how the flavor stores a string slice: a JSON array ("[]" when
// empty) or a text[] (empty, never NULL, when the slice is).
func (q *Queries) list(s []string) any {
	if q.f.JSONLists {
		return jsonList(s)
	}
	if s == nil {
		return []string{}
	}
	return s
}

// listDest is the scan destination of a list column for *dst.
func (q *Queries) listDest(dst *[]string) any {
	if q.f.JSONLists {
		return jsonListCol{dst}
	}
	return dst // pgx scans a text[] into a *[]string
}

// jsonList encodes a string slice as a JSON array, "[]" when empty.
func jsonList(s []string) string {
	if len(s) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(s) // a []string always marshals
	return string(b)
}

// jsonListCol scans a column written by jsonList; an empty list reads as
// nil.
type jsonListCol struct{ s *[]string }

// Scan implements sql.Scanner.
func (c jsonListCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("list column holds %T", src)
	}
	var s []string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("list column: %w", err)
	}
	if len(s) == 0 {
		s = nil
	}
	*c.s = s
	return nil
}
