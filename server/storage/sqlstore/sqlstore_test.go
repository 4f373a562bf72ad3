package sqlstore

import (
	"slices"
	"testing"
	"testing/fstest"
)

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		numbered    bool
		query, want string
	}{
		{false, `SELECT a FROM t WHERE x = ? AND y > ?`, `SELECT a FROM t WHERE x = ? AND y > ?`},
		{true, `SELECT a FROM t WHERE x = ? AND y > ?`, `SELECT a FROM t WHERE x = $1 AND y > $2`},
		{true, `INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, `INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`},
		{true, `DELETE FROM t`, `DELETE FROM t`},
	} {
		if got := (Flavor{Numbered: tc.numbered}).render(tc.query); got != tc.want {
			t.Errorf("render(%q, numbered %v) = %q, want %q", tc.query, tc.numbered, got, tc.want)
		}
	}
}

func TestLists(t *testing.T) {
	jsonQ, arrayQ := New(Flavor{JSONLists: true}), New(Flavor{Numbered: true})
	for _, tc := range []struct {
		in        []string
		json      string
		array     []string
		readsBack []string
	}{
		{nil, "[]", []string{}, nil},
		{[]string{}, "[]", []string{}, nil},
		{[]string{"a", `b"c`}, `["a","b\"c"]`, []string{"a", `b"c`}, []string{"a", `b"c`}},
	} {
		if got := jsonQ.list(tc.in); got != tc.json {
			t.Errorf("JSON list(%q) = %#v, want %q", tc.in, got, tc.json)
		}
		got, ok := arrayQ.list(tc.in).([]string)
		if !ok || got == nil || !slices.Equal(got, tc.array) {
			t.Errorf("array list(%q) = %#v, want %#v (never nil)", tc.in, arrayQ.list(tc.in), tc.array)
		}
		for _, src := range []any{tc.json, []byte(tc.json)} {
			back := []string{"stale"}
			if err := (jsonListCol{&back}).Scan(src); err != nil || !slices.Equal(back, tc.readsBack) || (back == nil) != (tc.readsBack == nil) {
				t.Errorf("scan %#v = %#v, %v; want %#v", src, back, err, tc.readsBack)
			}
		}
	}
	var s []string
	if err := (jsonListCol{&s}).Scan(int64(1)); err == nil {
		t.Error("a list column holding an integer scanned")
	}
}

func TestReadMigrations(t *testing.T) {
	ms, err := ReadMigrations(fstest.MapFS{
		"0002_more.sql": {Data: []byte("B")},
		"0001_init.sql": {Data: []byte("A")},
		"README.md":     {Data: []byte("not a migration")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Migration{{1, "0001_init", "A"}, {2, "0002_more", "B"}}
	if !slices.Equal(ms, want) {
		t.Errorf("ReadMigrations = %+v, want %+v", ms, want)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"no version":   {"init.sql": {}},
		"version 0":    {"0000_init.sql": {}},
		"version used": {"0001_a.sql": {}, "0001_b.sql": {}},
	} {
		if _, err := ReadMigrations(fsys); err == nil {
			t.Errorf("ReadMigrations of %s succeeded", name)
		}
	}
}
