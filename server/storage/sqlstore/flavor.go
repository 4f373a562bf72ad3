package sqlstore

import (
	"strconv"
	"strings"
)

// Flavor is what differs between the backends in the statements they
// share: the SQL dialect and how string lists are stored.
type Flavor struct {
	// Numbered placeholders: $1, $2, ... (PostgreSQL) instead of ?
	// (SQLite).
	Numbered bool
	// ForUpdate is appended to the queries by which a write transaction
	// reads rows that it then changes, or whose concurrent change it must
	// wait for: " FOR UPDATE" where rows are locked one by one
	// (PostgreSQL); empty where a write transaction holds the whole
	// database from its start (SQLite's BEGIN IMMEDIATE).
	ForUpdate string
	// JSONLists: string lists are stored as JSON arrays in text columns
	// (SQLite) rather than as text[] (PostgreSQL).
	JSONLists bool
}

// render returns query, written with ? placeholders, in the flavor's
// placeholder style. The shared statements hold no other ?.
func (f Flavor) render(query string) string {
	if !f.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for {
		before, after, found := strings.Cut(query, "?")
		b.WriteString(before)
		if !found {
			return b.String()
		}
		n++
		b.WriteString("$" + strconv.Itoa(n))
		query = after
	}
}
