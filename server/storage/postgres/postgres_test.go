package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/postgres/pgtest"
	"github.com/tokend/tokend/server/storage/sqlstore"
	"github.com/tokend/tokend/server/storage/storagetest"
)

// TestConformance runs the storage conformance suite, each subtest in a
// schema of its own.
func TestConformance(t *testing.T) {
	pgtest.BaseDSN(t) // skip at once, not in every subtest
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := Open(t.Context(), pgtest.DSN(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestShared runs the tests of Stores (connection pools) sharing one
// database, as replicas do.
func TestShared(t *testing.T) {
	pgtest.BaseDSN(t) // skip at once, not in every subtest
	storagetest.RunShared(t, func(t *testing.T) storagetest.Opener {
		dsn := pgtest.DSN(t)
		return func(ctx context.Context) (storage.Store, error) { return Open(ctx, dsn) }
	})
}

// open opens a Store on dsn and closes it when the test ends.
func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

// appliedVersions returns the versions recorded in schema_migrations.
func appliedVersions(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	return vs
}

// TestMigrateAppliesMissing runs migrate with a set that has one migration
// more than the database: only the new one must run (the others would fail
// if run again), and a binary that knows fewer migrations is refused.
func TestMigrateAppliesMissing(t *testing.T) {
	ctx := t.Context()
	s := open(t, pgtest.DSN(t))
	embedded, err := sqlstore.ReadMigrations(schema())
	if err != nil {
		t.Fatal(err)
	}
	n := len(embedded)
	next := fstest.MapFS{}
	var want []int
	for _, m := range embedded {
		next[m.Name+".sql"] = &fstest.MapFile{Data: []byte(m.SQL)}
		want = append(want, m.Version)
	}
	extra := fmt.Sprintf("%04d_extra.sql", n+1)
	next[extra] = &fstest.MapFile{Data: []byte(`CREATE TABLE extra (x integer NOT NULL); CREATE INDEX extra_x ON extra (x);`)}
	want = append(want, n+1)
	for range 2 {
		if err := migrate(ctx, s.pool, next); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	if vs := appliedVersions(t, s); !slices.Equal(vs, want) {
		t.Errorf("applied versions = %v, want %v", vs, want)
	}
	if _, err := s.pool.Exec(ctx, `SELECT x FROM extra`); err != nil {
		t.Errorf("table of migration %d: %v", n+1, err)
	}
	if err := migrate(ctx, s.pool, schema()); err == nil {
		t.Error("migrate with an older set of migrations succeeded")
	}

	// A failing migration leaves nothing behind: neither its changes nor
	// its version.
	bad := fstest.MapFS{}
	for name, f := range next {
		bad[name] = f
	}
	bad[fmt.Sprintf("%04d_bad.sql", n+2)] = &fstest.MapFile{Data: []byte(`CREATE TABLE half (x integer); SELECT no_such_column FROM extra;`)}
	if err := migrate(ctx, s.pool, bad); err == nil {
		t.Fatal("migrate with a failing migration succeeded")
	}
	if vs := appliedVersions(t, s); !slices.Equal(vs, want) {
		t.Errorf("applied versions after a failed migration = %v, want %v", vs, want)
	}
	if _, err := s.pool.Exec(ctx, `SELECT x FROM half`); err == nil {
		t.Error("the table of the failed migration exists")
	}
}

// TestMigrate runs the exported Migrate (tokend migrate) and then Open.
func TestMigrate(t *testing.T) {
	dsn := pgtest.DSN(t)
	if err := Migrate(t.Context(), dsn); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := Migrate(t.Context(), dsn); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	s := open(t, dsn)
	if err := s.CreateApp(t.Context(), storage.App{ID: "app", CreatedAt: t0}, nil); err != nil {
		t.Fatalf("CreateApp after Migrate: %v", err)
	}
}

// TestUnavailable cuts the connections to the server (through a proxy)
// and checks that calls fail with ErrUnavailable, never another error, and
// that the Store recovers by itself when the server is back.
func TestUnavailable(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	if err := s.CreateApp(ctx, storage.App{ID: "app", CreatedAt: t0}, nil); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	p := pgtest.StartProxy(t, dsn)
	viaProxy := p.DSN()
	ps := open(t, viaProxy)
	if _, err := ps.GetApp(ctx, "app"); err != nil {
		t.Fatalf("GetApp through the proxy: %v", err)
	}

	p.Cut()
	calls := map[string]func() error{
		"Ping":      func() error { return ps.Ping(ctx) },
		"GetApp":    func() error { _, err := ps.GetApp(ctx, "app"); return err },
		"CreateApp": func() error { return ps.CreateApp(ctx, storage.App{ID: "app-2", CreatedAt: t0}, nil) },
		"UpdateApp": func() error {
			_, err := ps.UpdateApp(ctx, "app", func(a storage.App) (storage.App, error) { return a, nil })
			return err
		},
		"AddRevoked": func() error {
			return ps.AddRevocations(ctx, []storage.Revocation{{AppID: "app", Kind: storage.RevokeTokenID, Value: "j", ExpiresAt: t0}})
		},
		"Rotate": func() error {
			_, err := ps.RotateRefreshToken(ctx, "h", t0, "", nil, storage.RefreshToken{Hash: "h2"})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s with the server unreachable = %v, want ErrUnavailable", name, err)
		}
	}

	p.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := ps.GetApp(ctx, "app")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GetApp after the server came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOpenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = Open(ctx, "postgres://tokend:secret-password@"+addr+"/tokend?sslmode=disable&connect_timeout=2")
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Open of an unreachable server = %v, want ErrUnavailable", err)
	}
	if err != nil && strings.Contains(err.Error(), "secret-password") {
		t.Errorf("Open's error shows the password: %v", err)
	}
}
