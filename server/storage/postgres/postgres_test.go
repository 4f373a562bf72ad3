package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/postgres/pgtest"
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

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	app := storage.App{ID: "app-1", Name: "one", Enabled: true, MaxTokenTTL: time.Hour, CreatedAt: t0}
	if err := s.CreateApp(ctx, app, nil); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, dsn)
	got, err := s.GetApp(ctx, app.ID)
	if err != nil {
		t.Fatalf("GetApp after reopening: %v", err)
	}
	if got.Name != app.Name || !got.CreatedAt.Equal(app.CreatedAt) || got.MaxTokenTTL != app.MaxTokenTTL {
		t.Errorf("GetApp after reopening = %+v, want %+v", got, app)
	}
	ms, err := readMigrations(schema())
	if err != nil {
		t.Fatal(err)
	}
	if vs := appliedVersions(t, s); len(vs) != len(ms) {
		t.Errorf("schema_migrations holds %v after two opens, want %d versions", vs, len(ms))
	}
}

// TestConcurrentOpen opens one new schema from several Stores at once, as
// replicas starting together would: all must open, each migration must be
// applied once (a second run of migration 1 fails: its tables exist), and
// they must share one database.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.DSN(t)
	const n = 8
	stores := make([]*Store, n)
	race(n, func(i int) {
		s, err := Open(t.Context(), dsn)
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			return
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	})
	if t.Failed() {
		return
	}
	ms, err := readMigrations(schema())
	if err != nil {
		t.Fatal(err)
	}
	if vs := appliedVersions(t, stores[0]); len(vs) != len(ms) {
		t.Errorf("schema_migrations holds %v, want %d versions", vs, len(ms))
	}
	if err := stores[0].CreateApp(t.Context(), storage.App{ID: "app", CreatedAt: t0}, nil); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	if _, err := stores[n-1].GetApp(t.Context(), "app"); err != nil {
		t.Errorf("GetApp through another Store: %v", err)
	}
}

// TestMigrateAppliesMissing runs migrate with a set that has one migration
// more than the database: only the new one must run (the others would fail
// if run again), and a binary that knows fewer migrations is refused.
func TestMigrateAppliesMissing(t *testing.T) {
	ctx := t.Context()
	s := open(t, pgtest.DSN(t))
	embedded, err := readMigrations(schema())
	if err != nil {
		t.Fatal(err)
	}
	n := len(embedded)
	next := fstest.MapFS{}
	var want []int
	for _, m := range embedded {
		next[m.name+".sql"] = &fstest.MapFile{Data: []byte(m.sql)}
		want = append(want, m.version)
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

// TestTwoPoolsRotate races rotations of one refresh token through two
// Stores (two connection pools), as two replicas would: exactly one wins.
func TestTwoPoolsRotate(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	stores := []*Store{open(t, dsn), open(t, dsn)}
	old := storage.RefreshToken{Hash: "old", FamilyID: "fam", AppID: "app", Subject: "sub", ExpiresAt: t0, FamilyExpiresAt: t0}
	if err := stores[0].CreateRefreshToken(ctx, old); err != nil {
		t.Fatalf("CreateRefreshToken: %v", err)
	}

	const n = 32
	errs := make([]error, n)
	race(n, func(i int) {
		next := old
		next.Hash = fmt.Sprintf("next-%d", i)
		_, errs[i] = stores[i%2].RotateRefreshToken(ctx, old.Hash, t0, fmt.Sprint(i), nil, next)
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

// TestTwoPoolsUpdate runs read-modify-write updates of one app and of its
// keys through two Stores: none may be lost.
func TestTwoPoolsUpdate(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	stores := []*Store{open(t, dsn), open(t, dsn)}
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
		// Each adds a key numbered after the newest it sees.
		err = stores[(i+1)%2].UpdateKeys(ctx, "app", func(ks []storage.Key) ([]storage.Key, error) {
			return []storage.Key{{ID: fmt.Sprintf("kid-%02d", len(ks)), State: storage.KeyNext,
				CreatedAt: t0.Add(time.Duration(len(ks)) * time.Second)}}, nil
		})
		if err != nil {
			t.Errorf("UpdateKeys: %v", err)
		}
	})
	got, err := stores[1].GetApp(ctx, "app")
	if err != nil {
		t.Fatalf("GetApp: %v", err)
	}
	if got.MaxTokenTTL != n*time.Second {
		t.Errorf("MaxTokenTTL = %v after %d updates, want %v", got.MaxTokenTTL, n, n*time.Second)
	}
	keys, err := stores[0].ListKeys(ctx, "app")
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if len(keys) != n {
		t.Errorf("%d keys after %d UpdateKeys adding one each, want %d", len(keys), n, n)
	}
}

// TestRevokeRacesRotate races a family revocation against a rotation in
// the family, many times. Whichever goes first, every token of the family
// must end up revoked (a rotation that won must have its new token revoked
// too; otherwise it must have been refused as revoked), and the revocation
// must return every token it revoked: the refresh service revokes their
// access tokens from that list.
func TestRevokeRacesRotate(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	stores := []*Store{open(t, dsn), open(t, dsn)}
	for i := range 100 {
		fam := fmt.Sprintf("fam-%02d", i)
		subject := "sub-" + fam
		old := storage.RefreshToken{Hash: fam + "-1", FamilyID: fam, AppID: "app", Subject: subject, ExpiresAt: t0, FamilyExpiresAt: t0}
		if err := stores[0].CreateRefreshToken(ctx, old); err != nil {
			t.Fatalf("CreateRefreshToken: %v", err)
		}
		bySubject := i%2 == 1
		var rotateErr, revokeErr error
		var revoked []storage.RefreshToken
		race(2, func(j int) {
			if j == 0 {
				next := old
				next.Hash = fam + "-2"
				_, rotateErr = stores[0].RotateRefreshToken(ctx, old.Hash, t0, "", nil, next)
				return
			}
			if bySubject {
				revoked, revokeErr = stores[1].RevokeSubjectFamilies(ctx, "app", subject, t0)
			} else {
				revoked, revokeErr = stores[1].RevokeFamily(ctx, fam, t0)
			}
		})
		if revokeErr != nil {
			t.Fatalf("revoke: %v", revokeErr)
		}
		want := []string{old.Hash}
		switch {
		case rotateErr == nil:
			want = append(want, fam+"-2")
		case !errors.Is(rotateErr, storage.ErrConflict):
			t.Fatalf("RotateRefreshToken: %v, want success or ErrConflict", rotateErr)
		}
		for _, h := range want {
			rt, err := stores[0].GetRefreshToken(ctx, h)
			if err != nil {
				t.Fatalf("GetRefreshToken(%s): %v", h, err)
			}
			if rt.RevokedAt.IsZero() {
				t.Errorf("round %d: token %s of the revoked family is not revoked", i, h)
			}
		}
		var got []string
		for _, rt := range revoked {
			got = append(got, rt.Hash)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("round %d (by subject: %v): the revocation returned %v, want the tokens it revoked, %v", i, bySubject, got, want)
		}
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
