package storagetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
)

var keyTests = []test{
	{"ListOrder", testKeyListOrder},
	{"ListAllKeys", testKeyListAll},
	{"UpdateUpsert", testKeyUpdateUpsert},
	{"UpdateFnError", testKeyUpdateFnError},
	{"UpdateUnknownApp", testKeyUpdateUnknownApp},
	{"UpdateOtherAppsKey", testKeyUpdateOtherAppsKey},
	{"UpdateConcurrentRotation", testKeyUpdateConcurrentRotation},
}

// createApp stores a new app with keys created at the given offsets from
// base, named <id>-kid-0, <id>-kid-1, ...
func createApp(t *testing.T, s storage.Store, id string, offsets ...time.Duration) []storage.Key {
	t.Helper()
	var keys []storage.Key
	for i, d := range offsets {
		keys = append(keys, newKey(id, fmt.Sprintf("%s-kid-%d", id, i), base.Add(d)))
	}
	must(t, "CreateApp", s.CreateApp(t.Context(), newApp(id), keys))
	return keys
}

func testKeyListOrder(t *testing.T, s storage.Store) {
	ctx := t.Context()
	app := newApp("app-1")
	a := newKey(app.ID, "kid-a", base)
	b := newKey(app.ID, "kid-b", base.Add(2*time.Hour))
	c := newKey(app.ID, "kid-c", base.Add(time.Hour))
	d := newKey(app.ID, "kid-d", base.Add(2*time.Hour)) // same CreatedAt as b: higher ID first
	must(t, "CreateApp", s.CreateApp(ctx, app, []storage.Key{a, b, c, d}))
	createApp(t, s, "app-2", 3*time.Hour)

	got, err := s.ListKeys(ctx, app.ID)
	must(t, "ListKeys", err)
	check(t, "ListKeys", got, []storage.Key{d, b, c, a})

	got, err = s.ListKeys(ctx, "nope")
	must(t, "ListKeys of an unknown app", err)
	if len(got) != 0 {
		t.Errorf("ListKeys of an unknown app = %v, want none", got)
	}
}

func testKeyListAll(t *testing.T, s storage.Store) {
	want := append(createApp(t, s, "app-1", 0, time.Hour), createApp(t, s, "app-2", time.Minute)...)
	createApp(t, s, "app-3")
	got, err := s.ListAllKeys(t.Context())
	must(t, "ListAllKeys", err)
	byID := func(k storage.Key) string { return k.ID }
	check(t, "ListAllKeys", sorted(got, byID), sorted(want, byID))
}

// testKeyUpdateUpsert checks that fn sees the keys newest first and that
// what it returns is upserted: changed keys replaced, new keys added, the
// others left alone.
func testKeyUpdateUpsert(t *testing.T, s storage.Store) {
	ctx := t.Context()
	keys := createApp(t, s, "app-1", 0, time.Hour) // kid-0 older, kid-1 newer
	other := createApp(t, s, "app-2", 0)

	old := keys[0]
	old.State, old.VerifyUntil = storage.KeyVerifyOnly, base.Add(48*time.Hour)
	added := newKey("app-1", "app-1-kid-new", base.Add(2*time.Hour))
	added.State, added.ActivatesAt = storage.KeyNext, base.Add(3*time.Hour)
	blank := newKey("", "app-1-kid-blank", base.Add(-time.Hour)) // AppID filled in

	err := s.UpdateKeys(ctx, "app-1", func(cur []storage.Key) ([]storage.Key, error) {
		check(t, "keys given to fn", cur, []storage.Key{keys[1], keys[0]})
		return []storage.Key{old, added, blank}, nil
	})
	must(t, "UpdateKeys", err)
	blank.AppID = "app-1"
	got, err := s.ListKeys(ctx, "app-1")
	must(t, "ListKeys", err)
	check(t, "ListKeys after UpdateKeys", got, []storage.Key{added, keys[1], old, blank})
	got, err = s.ListKeys(ctx, "app-2")
	must(t, "ListKeys(app-2)", err)
	check(t, "keys of another app", got, other)

	// Returning nothing changes nothing.
	must(t, "UpdateKeys returning nothing", s.UpdateKeys(ctx, "app-1", func([]storage.Key) ([]storage.Key, error) {
		return nil, nil
	}))
	got, err = s.ListKeys(ctx, "app-1")
	must(t, "ListKeys", err)
	check(t, "ListKeys after an empty update", got, []storage.Key{added, keys[1], old, blank})
}

func testKeyUpdateFnError(t *testing.T, s storage.Store) {
	ctx := t.Context()
	keys := createApp(t, s, "app-1", 0)
	err := s.UpdateKeys(ctx, "app-1", func(cur []storage.Key) ([]storage.Key, error) {
		changed := cur[0]
		changed.State = storage.KeyRetired
		return []storage.Key{changed, newKey("app-1", "not-stored", base)}, errFn
	})
	wantErr(t, "UpdateKeys", err, errFn)
	got, err := s.ListKeys(ctx, "app-1")
	must(t, "ListKeys", err)
	check(t, "ListKeys after the aborted update", got, keys)
}

func testKeyUpdateUnknownApp(t *testing.T, s storage.Store) {
	err := s.UpdateKeys(t.Context(), "nope", func([]storage.Key) ([]storage.Key, error) {
		t.Error("fn called for an unknown app")
		return nil, nil
	})
	wantErr(t, "UpdateKeys", err, storage.ErrNotFound)
}

// testKeyUpdateOtherAppsKey checks that UpdateKeys cannot touch the keys of
// another app, and that a refused update stores none of its keys.
func testKeyUpdateOtherAppsKey(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mine := createApp(t, s, "app-1", 0)
	theirs := createApp(t, s, "app-2", 0)
	for _, tc := range []struct {
		name    string
		key     storage.Key
		wantErr error // nil: any error
	}{
		{"kid of another app", newKey("app-1", theirs[0].ID, base), storage.ErrAlreadyExists},
		{"key naming another app", newKey("app-2", "app-2-kid-new", base), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.UpdateKeys(ctx, "app-1", func([]storage.Key) ([]storage.Key, error) {
				return []storage.Key{newKey("app-1", "app-1-kid-new", base.Add(time.Hour)), tc.key}, nil
			})
			switch {
			case err == nil:
				t.Fatal("UpdateKeys succeeded")
			case tc.wantErr != nil:
				wantErr(t, "UpdateKeys", err, tc.wantErr)
			}
			got, err := s.ListKeys(ctx, "app-1")
			must(t, "ListKeys(app-1)", err)
			check(t, "keys of app-1", got, mine)
			got, err = s.ListKeys(ctx, "app-2")
			must(t, "ListKeys(app-2)", err)
			check(t, "keys of app-2", got, theirs)
		})
	}
}

// testKeyUpdateConcurrentRotation is the rotation compare-and-swap: many
// replicas decide at once that app-1 needs a new key; each adds one only if
// no key of the current rotation window exists yet. Exactly one key must be
// added, which holds only if every fn sees the latest keys.
func testKeyUpdateConcurrentRotation(t *testing.T, s storage.Store) {
	ctx := t.Context()
	initial := createApp(t, s, "app-1", 0)
	window := base.Add(24 * time.Hour)
	const n = 16
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			err := s.UpdateKeys(ctx, "app-1", func(cur []storage.Key) ([]storage.Key, error) {
				if !cur[0].CreatedAt.Before(window) {
					return nil, nil // another replica rotated: done
				}
				k := newKey("app-1", fmt.Sprintf("rotated-%02d", i), window.Add(time.Duration(i)*time.Millisecond))
				k.State = storage.KeyNext
				return []storage.Key{k}, nil
			})
			if err != nil {
				t.Errorf("UpdateKeys: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	got, err := s.ListKeys(ctx, "app-1")
	must(t, "ListKeys", err)
	if len(got) != 2 || got[1].ID != initial[0].ID {
		t.Fatalf("after %d concurrent rotations the keys are %+v, want one new key and the initial one", n, got)
	}
}
