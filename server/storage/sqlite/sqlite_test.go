package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
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

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tokend.db")
	s := open(t, path)
	app := storage.App{ID: "app-1", Name: "one", Enabled: true, MaxTokenTTL: time.Hour, CreatedAt: t0}
	if err := s.CreateApp(ctx, app, nil); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path)
	got, err := s.GetApp(ctx, app.ID)
	if err != nil {
		t.Fatalf("GetApp after reopening: %v", err)
	}
	if got.Name != app.Name || !got.CreatedAt.Equal(app.CreatedAt) {
		t.Errorf("GetApp after reopening = %+v, want %+v", got, app)
	}
	ms, err := readMigrations(schema())
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) {
		t.Errorf("schema_migrations has %d rows after two opens, want %d", n, len(ms))
	}
}

// TestConcurrentOpen opens one new file from several Stores at once, as
// processes starting together would: all must open (the schema is created
// once: a second run of migration 1 would fail) and share one database.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokend.db")
	const n = 4
	stores := make([]*Store, n)
	race(n, func(i int) {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			return
		}
		stores[i] = s
	})
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	if t.Failed() {
		return
	}
	for i, s := range stores {
		if err := s.CreateApp(t.Context(), storage.App{ID: fmt.Sprint("app-", i)}, nil); err != nil {
			t.Errorf("CreateApp through Store %d: %v", i, err)
		}
	}
	apps, err := stores[0].ListApps(t.Context(), "", 10)
	if err != nil || len(apps) != n {
		t.Errorf("ListApps = %d apps, %v; want %d", len(apps), err, n)
	}
}

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
	rows, err := s.r.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
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

// TestTwoStoresRotate races rotations of one refresh token through two
// Stores on one file, as two processes would: exactly one must win.
func TestTwoStoresRotate(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tokend.db")
	stores := []*Store{open(t, path), open(t, path)}
	old := storage.RefreshToken{Hash: "old", FamilyID: "fam", AppID: "app", Subject: "sub", ExpiresAt: t0, FamilyExpiresAt: t0}
	if err := stores[0].CreateRefreshToken(ctx, old); err != nil {
		t.Fatalf("CreateRefreshToken: %v", err)
	}

	const n = 32
	errs := make([]error, n)
	race(n, func(i int) {
		next := old
		next.Hash = fmt.Sprintf("next-%d", i)
		_, errs[i] = stores[i%2].RotateRefreshToken(ctx, old.Hash, t0, "", nil, next)
	})
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, storage.ErrRefreshUsed):
			t.Errorf("rotation %d: %v, want success or ErrRefreshUsed", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d rotations won, want 1", wins)
	}
}

// TestTwoStoresUpdate runs read-modify-write updates of one app through two
// Stores on one file: none may be lost.
func TestTwoStoresUpdate(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tokend.db")
	stores := []*Store{open(t, path), open(t, path)}
	if err := stores[0].CreateApp(ctx, storage.App{ID: "app", CreatedAt: t0}, nil); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}

	const n = 32
	race(n, func(i int) {
		_, err := stores[i%2].UpdateApp(ctx, "app", func(a storage.App) (storage.App, error) {
			a.MaxTokenTTL += time.Second
			return a, nil
		})
		if err != nil {
			t.Errorf("UpdateApp: %v", err)
		}
	})
	got, err := stores[1].GetApp(ctx, "app")
	if err != nil {
		t.Fatalf("GetApp: %v", err)
	}
	if got.MaxTokenTTL != n*time.Second {
		t.Errorf("MaxTokenTTL = %v after %d updates, want %v", got.MaxTokenTTL, n, n*time.Second)
	}
}

// race runs f(0) ... f(n-1) in goroutines started together and waits.
func race(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

func TestOpenBadPath(t *testing.T) {
	_, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing-dir", "tokend.db"))
	if err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}
