package sqlite

import (
	"encoding/json"
	"fmt"
	"time"
)

// nanos is how a time is stored: unix nanoseconds, with 0 for the zero time.
// (An instant exactly at the Unix epoch therefore reads back as the zero
// time; tokend has no use for that instant.)
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// timeCol scans a column written by nanos into a time.Time in UTC.
type timeCol struct{ t *time.Time }

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

// jsonList is how a string slice is stored: a JSON array, "[]" when empty.
func jsonList(s []string) string {
	if len(s) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(s) // a []string always marshals
	return string(b)
}

// listCol scans a column written by jsonList; an empty list reads as nil.
type listCol struct{ s *[]string }

func (c listCol) Scan(src any) error {
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

// blob is how a byte slice is stored: NULL when empty, so that an empty
// slice reads back as nil.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
