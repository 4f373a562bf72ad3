package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
)

// Opener opens a new Store on one database.
type Opener func(ctx context.Context) (storage.Store, error)

// RunShared runs the tests of several Stores sharing one database, as
// processes (SQLite) or replicas (PostgreSQL) share it. newDatabase must
// make a new, empty database each time it is called and return what opens
// Stores on it; RunShared closes them at the end of the subtest.
func RunShared(t *testing.T, newDatabase func(t *testing.T) Opener) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, open func(t *testing.T) storage.Store, opener Opener)
	}{
		{"ReopenKeepsData", testSharedReopen},
		{"ConcurrentOpen", testSharedConcurrentOpen},
		{"Rotate", testSharedRotate},
		{"Update", testSharedUpdate},
		{"RevokeRacesRotate", testSharedRevokeRacesRotate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opener := newDatabase(t)
			open := func(t *testing.T) storage.Store {
				t.Helper()
				s, err := opener(t.Context())
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			tc.run(t, open, opener)
		})
	}
}

// testSharedReopen closes a Store and opens the database again: the data
// is still there (and opening a migrated database applies nothing twice).
func testSharedReopen(t *testing.T, open func(t *testing.T) storage.Store, _ Opener) {
	ctx := t.Context()
	s := open(t)
	app := newApp("app-1")
	must(t, "CreateApp", s.CreateApp(ctx, app, nil))
	must(t, "Close", s.Close())

	got, err := open(t).GetApp(ctx, app.ID)
	must(t, "GetApp after reopening", err)
	check(t, "GetApp after reopening", got, app)
}

// testSharedConcurrentOpen opens one new database from several Stores at
// once, as processes or replicas starting together would: all must open
// (a migration applied twice would fail: its tables exist) and share one
// database.
func testSharedConcurrentOpen(t *testing.T, _ func(t *testing.T) storage.Store, opener Opener) {
	const n = 4
	stores := make([]storage.Store, n)
	race(n, func(i int) {
		s, err := opener(t.Context())
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			return
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	})
	if t.Failed() {
		return
	}
	for i, s := range stores {
		must(t, "CreateApp", s.CreateApp(t.Context(), newApp(fmt.Sprint("app-", i)), nil))
	}
	apps, err := stores[0].ListApps(t.Context(), "", 10)
	if err != nil || len(apps) != n {
		t.Errorf("ListApps = %d apps, %v; want %d", len(apps), err, n)
	}
}

// testSharedRotate races rotations of one refresh token through two
// Stores: exactly one wins.
func testSharedRotate(t *testing.T, open func(t *testing.T) storage.Store, _ Opener) {
	ctx := t.Context()
	stores := []storage.Store{open(t), open(t)}
	old := newRefresh("old", "fam", "app", "sub")
	must(t, "CreateRefreshToken", stores[0].CreateRefreshToken(ctx, old))

	const n = 32
	errs := make([]error, n)
	race(n, func(i int) {
		next := newRefresh(fmt.Sprintf("next-%d", i), old.FamilyID, old.AppID, old.Subject)
		_, errs[i] = stores[i%2].RotateRefreshToken(ctx, old.Hash, base, fmt.Sprint(i), nil, next)
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

// testSharedUpdate runs read-modify-write updates of one app and of its
// keys through two Stores: none may be lost.
func testSharedUpdate(t *testing.T, open func(t *testing.T) storage.Store, _ Opener) {
	ctx := t.Context()
	stores := []storage.Store{open(t), open(t)}
	app := newApp("app")
	app.MaxTokenTTL = 0
	must(t, "CreateApp", stores[0].CreateApp(ctx, app, nil))

	const n = 32
	race(n, func(i int) {
		_, err := stores[i%2].UpdateApp(ctx, app.ID, func(a storage.App) (storage.App, error) {
			a.MaxTokenTTL += time.Second
			return a, nil
		})
		if err != nil {
			t.Errorf("UpdateApp: %v", err)
		}
		// Each adds a key numbered after the newest it sees.
		err = stores[(i+1)%2].UpdateKeys(ctx, app.ID, func(ks []storage.Key) ([]storage.Key, error) {
			return []storage.Key{newKey(app.ID, fmt.Sprintf("kid-%02d", len(ks)), base.Add(time.Duration(len(ks))*time.Second))}, nil
		})
		if err != nil {
			t.Errorf("UpdateKeys: %v", err)
		}
	})
	got, err := stores[1].GetApp(ctx, app.ID)
	must(t, "GetApp", err)
	if got.MaxTokenTTL != n*time.Second {
		t.Errorf("MaxTokenTTL = %v after %d updates, want %v", got.MaxTokenTTL, n, n*time.Second)
	}
	keys, err := stores[0].ListKeys(ctx, app.ID)
	must(t, "ListKeys", err)
	if len(keys) != n {
		t.Errorf("%d keys after %d UpdateKeys adding one each, want %d", len(keys), n, n)
	}
}

// testSharedRevokeRacesRotate races a family revocation through one Store
// against a rotation in the family through another, many times. Whichever
// goes first, every token of the family ends up revoked (a rotation that
// won has its new token revoked too; otherwise it was refused as revoked),
// and the revocation returns every token it revoked: the refresh service
// revokes their access tokens from that list.
func testSharedRevokeRacesRotate(t *testing.T, open func(t *testing.T) storage.Store, _ Opener) {
	ctx := t.Context()
	stores := []storage.Store{open(t), open(t)}
	for i := range 100 {
		fam := fmt.Sprintf("fam-%02d", i)
		subject := "sub-" + fam
		old := newRefresh(fam+"-1", fam, "app", subject)
		must(t, "CreateRefreshToken", stores[0].CreateRefreshToken(ctx, old))
		bySubject := i%2 == 1
		var rotateErr, revokeErr error
		var revoked []storage.RefreshToken
		race(2, func(j int) {
			if j == 0 {
				next := newRefresh(fam+"-2", fam, "app", subject)
				_, rotateErr = stores[0].RotateRefreshToken(ctx, old.Hash, base, "", nil, next)
				return
			}
			if bySubject {
				revoked, revokeErr = stores[1].RevokeSubjectFamilies(ctx, "app", subject, base)
			} else {
				revoked, revokeErr = stores[1].RevokeFamily(ctx, fam, base)
			}
		})
		must(t, "revoke", revokeErr)
		want := []string{old.Hash}
		switch {
		case rotateErr == nil:
			want = append(want, fam+"-2")
		case !errors.Is(rotateErr, storage.ErrConflict):
			t.Fatalf("RotateRefreshToken: %v, want success or ErrConflict", rotateErr)
		}
		for _, h := range want {
			rt, err := stores[0].GetRefreshToken(ctx, h)
			must(t, "GetRefreshToken", err)
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
