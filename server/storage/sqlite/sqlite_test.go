package sqlite

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return open(t, filepath.Join(t.TempDir(), "tokend.db"))
	})
}

// TestShared runs the tests of Stores sharing one file, as processes do.
func TestShared(t *testing.T) {
	storagetest.RunShared(t, func(t *testing.T) storagetest.Opener {
		path := filepath.Join(t.TempDir(), "tokend.db")
		return func(ctx context.Context) (storage.Store, error) { return Open(ctx, path) }
	})
}

// open opens a Store on path and closes it when the test ends.
func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

// TestMigrateAppliesMissing runs migrate on a database that has the first
// migration with a set that has one more: only the new one must run (the
// first would fail if run again: its tables exist).
func TestMigrateAppliesMissing(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "tokend.db"))
	first, err := fs.ReadFile(schema(), "0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	next := fstest.MapFS{
		"0001_init.sql":  {Data: first},
		"0002_extra.sql": {Data: []byte(`CREATE TABLE extra (x INTEGER NOT NULL) STRICT;`)},
	}
	for range 2 {
		if err := migrate(ctx, s.w, next); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	var versions []int
	rows, err := s.r.DB.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if fmt.Sprint(versions) != "[1 2]" {
		t.Errorf("applied versions = %v, want [1 2]", versions)
	}
	if _, err := s.r.ExecContext(ctx, `SELECT x FROM extra`); err != nil {
		t.Errorf("table of migration 2: %v", err)
	}

	// The binary that knows only 0001 refuses the database now.
	if err := migrate(ctx, s.w, schema()); err == nil {
		t.Error("migrate with an older set of migrations succeeded")
	}
}

func TestPragmas(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "tokend.db"))
	for _, tc := range []struct {
		pool, pragma, want string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "synchronous", "2"}, // FULL
		{"write", "foreign_keys", "1"},
		{"write", "busy_timeout", "5000"},
		{"write", "query_only", "0"},
		{"read", "journal_mode", "wal"},
		{"read", "foreign_keys", "1"},
		{"read", "busy_timeout", "5000"},
		{"read", "query_only", "1"},
	} {
		t.Run(tc.pool+"/"+tc.pragma, func(t *testing.T) {
			db := s.w
			if tc.pool == "read" {
				db = s.r.DB
			}
			var got string
			if err := db.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
			}
		})
	}
}

func TestOpenBadPath(t *testing.T) {
	_, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing-dir", "tokend.db"))
	if err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}
