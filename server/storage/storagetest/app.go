package storagetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
)

var appTests = []test{
	{"CreateGet", testAppCreateGet},
	{"CreateDuplicate", testAppCreateDuplicate},
	{"CreateAtomic", testAppCreateAtomic},
	{"GetUnknown", testAppGetUnknown},
	{"List", testAppList},
	{"Update", testAppUpdate},
	{"UpdateFnError", testAppUpdateFnError},
	{"UpdateUnknown", testAppUpdateUnknown},
	{"UpdateConcurrent", testAppUpdateConcurrent},
}

func newApp(id string) storage.App {
	return storage.App{
		ID:                id,
		Name:              "name of " + id,
		Description:       "description of " + id,
		Region:            "eu-west",
		Enabled:           true,
		MaxTokenTTL:       24 * time.Hour,
		DefaultTokenTTL:   time.Hour,
		RefreshIdleTTL:    7 * 24 * time.Hour,
		RefreshFamilyTTL:  30 * 24 * time.Hour,
		KeyRotationPeriod: 30 * 24 * time.Hour,
		CreatedAt:         base,
		UpdatedAt:         base.Add(time.Second),
	}
}

func newKey(appID, id string, createdAt time.Time) storage.Key {
	return storage.Key{
		ID:               id,
		AppID:            appID,
		Algorithm:        "ES256",
		PublicJWK:        `{"kty":"EC","kid":"` + id + `"}`,
		SealedPrivateKey: "sealed." + id,
		State:            storage.KeyActive,
		CreatedAt:        createdAt,
	}
}

func testAppCreateGet(t *testing.T, s storage.Store) {
	ctx := t.Context()
	app := newApp("app-1")
	app.CreatedAt = base.In(time.FixedZone("UTC+3", 3*3600)) // read back as the same instant
	k1 := newKey(app.ID, "kid-1", base)
	k2 := newKey(app.ID, "kid-2", base.Add(time.Minute))
	k2.State, k2.ActivatesAt = storage.KeyNext, base.Add(time.Hour)
	must(t, "CreateApp", s.CreateApp(ctx, app, []storage.Key{k1, k2}))

	got, err := s.GetApp(ctx, app.ID)
	must(t, "GetApp", err)
	check(t, "GetApp", got, app)
	keys, err := s.ListKeys(ctx, app.ID)
	must(t, "ListKeys", err)
	check(t, "ListKeys", keys, []storage.Key{k2, k1})

	// An app without keys is fine too.
	must(t, "CreateApp without keys", s.CreateApp(ctx, newApp("app-2"), nil))
	if _, err := s.GetApp(ctx, "app-2"); err != nil {
		t.Errorf("GetApp(app-2): %v", err)
	}
}

func testAppCreateDuplicate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	app := newApp("app-1")
	must(t, "CreateApp", s.CreateApp(ctx, app, nil))
	other := newApp("app-1")
	other.Name = "another"
	wantErr(t, "CreateApp with a taken id", s.CreateApp(ctx, other, nil), storage.ErrAlreadyExists)
	got, err := s.GetApp(ctx, app.ID)
	must(t, "GetApp", err)
	check(t, "GetApp after the refused create", got, app)
}

// testAppCreateAtomic checks that CreateApp stores the app and its keys all
// or nothing: a key whose ID is taken by another app refuses the lot.
func testAppCreateAtomic(t *testing.T, s storage.Store) {
	ctx := t.Context()
	k1 := newKey("app-1", "kid-1", base)
	must(t, "CreateApp(app-1)", s.CreateApp(ctx, newApp("app-1"), []storage.Key{k1}))

	err := s.CreateApp(ctx, newApp("app-2"), []storage.Key{newKey("app-2", "kid-2", base), newKey("app-2", "kid-1", base)})
	wantErr(t, "CreateApp with a taken key id", err, storage.ErrAlreadyExists)
	_, err = s.GetApp(ctx, "app-2")
	wantErr(t, "GetApp of the refused app", err, storage.ErrNotFound)
	all, err := s.ListAllKeys(ctx)
	must(t, "ListAllKeys", err)
	check(t, "ListAllKeys", all, []storage.Key{k1})

	// A key naming another app is refused too.
	err = s.CreateApp(ctx, newApp("app-3"), []storage.Key{newKey("app-1", "kid-3", base)})
	if err == nil {
		t.Error("CreateApp with a key of another app succeeded")
	}
	_, err = s.GetApp(ctx, "app-3")
	wantErr(t, "GetApp of the refused app", err, storage.ErrNotFound)
}

func testAppGetUnknown(t *testing.T, s storage.Store) {
	_, err := s.GetApp(t.Context(), "nope")
	wantErr(t, "GetApp", err, storage.ErrNotFound)
}

func testAppList(t *testing.T, s storage.Store) {
	ctx := t.Context()
	apps := map[string]storage.App{}
	for _, id := range []string{"app-03", "app-01", "app-05", "app-02", "app-04"} {
		apps[id] = newApp(id)
		must(t, "CreateApp", s.CreateApp(ctx, apps[id], nil))
	}
	for _, tc := range []struct {
		afterID string
		limit   int
		want    []string
	}{
		{"", 2, []string{"app-01", "app-02"}},
		{"app-02", 2, []string{"app-03", "app-04"}},
		{"app-04", 2, []string{"app-05"}},
		{"app-05", 2, nil},
		{"", 10, []string{"app-01", "app-02", "app-03", "app-04", "app-05"}},
		{"app-025", 1, []string{"app-03"}}, // afterID need not exist
		{"", 0, nil},
	} {
		t.Run(fmt.Sprintf("after=%q,limit=%d", tc.afterID, tc.limit), func(t *testing.T) {
			got, err := s.ListApps(ctx, tc.afterID, tc.limit)
			must(t, "ListApps", err)
			var want []storage.App
			for _, id := range tc.want {
				want = append(want, apps[id])
			}
			check(t, "ListApps", got, want)
		})
	}
}

func testAppUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	app := newApp("app-1")
	must(t, "CreateApp", s.CreateApp(ctx, app, nil))

	want := app
	want.Name, want.Description, want.Region, want.Enabled = "renamed", "new description", "us-east", false
	want.MaxTokenTTL, want.DefaultTokenTTL = 2*time.Hour, 30*time.Minute
	want.RefreshIdleTTL, want.RefreshFamilyTTL = time.Hour, 48*time.Hour
	want.KeyRotationPeriod = 7 * 24 * time.Hour
	want.UpdatedAt = base.Add(time.Hour)
	got, err := s.UpdateApp(ctx, app.ID, func(old storage.App) (storage.App, error) {
		check(t, "app given to fn", old, app)
		next := want
		next.ID, next.CreatedAt = "changed-id", base.Add(time.Hour) // both are kept
		return next, nil
	})
	must(t, "UpdateApp", err)
	check(t, "UpdateApp result", got, want)
	stored, err := s.GetApp(ctx, app.ID)
	must(t, "GetApp", err)
	check(t, "GetApp after UpdateApp", stored, want)
	_, err = s.GetApp(ctx, "changed-id")
	wantErr(t, "GetApp(changed-id)", err, storage.ErrNotFound)
}

func testAppUpdateFnError(t *testing.T, s storage.Store) {
	ctx := t.Context()
	app := newApp("app-1")
	must(t, "CreateApp", s.CreateApp(ctx, app, nil))
	_, err := s.UpdateApp(ctx, app.ID, func(a storage.App) (storage.App, error) {
		a.Name = "not stored"
		return a, errFn
	})
	wantErr(t, "UpdateApp", err, errFn)
	got, err := s.GetApp(ctx, app.ID)
	must(t, "GetApp", err)
	check(t, "GetApp after the aborted update", got, app)
}

func testAppUpdateUnknown(t *testing.T, s storage.Store) {
	_, err := s.UpdateApp(t.Context(), "nope", func(a storage.App) (storage.App, error) {
		t.Error("fn called for an unknown app")
		return a, nil
	})
	wantErr(t, "UpdateApp", err, storage.ErrNotFound)
}

// testAppUpdateConcurrent checks that concurrent updates lose nothing: each
// adds a minute to MaxTokenTTL.
func testAppUpdateConcurrent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	app := newApp("app-1")
	must(t, "CreateApp", s.CreateApp(ctx, app, nil))
	const n = 16
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			_, err := s.UpdateApp(ctx, app.ID, func(a storage.App) (storage.App, error) {
				a.MaxTokenTTL += time.Minute
				return a, nil
			})
			if err != nil {
				t.Errorf("UpdateApp: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	got, err := s.GetApp(ctx, app.ID)
	must(t, "GetApp", err)
	if want := app.MaxTokenTTL + n*time.Minute; got.MaxTokenTTL != want {
		t.Errorf("MaxTokenTTL after %d concurrent updates = %v, want %v", n, got.MaxTokenTTL, want)
	}
}
