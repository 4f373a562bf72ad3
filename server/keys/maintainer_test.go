package keys_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/storage"
)

func TestMaintainerWritesStatesBack(t *testing.T) {
	t.Parallel()
	r := newReplica(t, tempDB(t), newKEK(t))
	ctx := t.Context()
	app, first := r.createApp(t, "app-1", jose.EdDSA, 0)
	rot, err := r.mgr.Rotate(ctx, app, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	next := rot.Key
	retire := t0.Add(jwksMaxAge + app.MaxTokenTTL + leeway)
	type want struct {
		state  storage.KeyState
		sealed bool
	}
	steps := []struct {
		name    string
		at      time.Time
		settled bool
		first   want
		next    want
	}{
		{"before activation: nothing to write", t0.Add(time.Minute), false,
			want{storage.KeyActive, true}, want{storage.KeyNext, true}},
		{"activation", t0.Add(jwksMaxAge), true,
			want{storage.KeyVerifyOnly, false}, want{storage.KeyActive, true}},
		{"overlap", retire.Add(-time.Second), false,
			want{storage.KeyVerifyOnly, false}, want{storage.KeyActive, true}},
		{"retirement", retire, true,
			want{storage.KeyRetired, false}, want{storage.KeyActive, true}},
	}
	for _, s := range steps {
		res, err := r.maint.Tick(ctx, s.at)
		if err != nil {
			t.Fatalf("%s: Tick: %v", s.name, err)
		}
		if got := slices.Contains(res.Settled, app.ID); got != s.settled {
			t.Errorf("%s: settled = %v, want %v", s.name, got, s.settled)
		}
		if len(res.Rotated) != 0 {
			t.Errorf("%s: rotated %v with rotation off", s.name, res.Rotated)
		}
		stored := r.stored(t, app.ID)
		for _, c := range []struct {
			id string
			w  want
		}{{first.ID, s.first}, {next.ID, s.next}} {
			k := stored[c.id]
			if k.State != c.w.state || (k.SealedPrivateKey != "") != c.w.sealed {
				t.Errorf("%s: key %s stored %s sealed=%v, want %s sealed=%v", s.name, c.id, k.State, k.SealedPrivateKey != "", c.w.state, c.w.sealed)
			}
		}
	}
	if _, ok := r.reg.Key(first.ID); ok {
		t.Error("the registry still holds the retired key")
	}
	if views, _ := r.reg.Keys(app.ID, retire); len(views) != 1 || views[0].ID != next.ID {
		t.Errorf("keys after retirement: %+v", views)
	}
}

func TestMaintainerRotatesOnSchedule(t *testing.T) {
	t.Parallel()
	r := newReplica(t, tempDB(t), newKEK(t))
	ctx := t.Context()
	const period = 24 * time.Hour
	app, first := r.createApp(t, "app-1", jose.PS256, period)
	r.createApp(t, "app-off", jose.ES256, 0)

	if res, err := r.maint.Tick(ctx, t0.Add(period-time.Second)); err != nil || len(res.Rotated) != 0 {
		t.Fatalf("tick before the period: %+v, %v", res, err)
	}
	due := t0.Add(period)
	res, err := r.maint.Tick(ctx, due)
	if err != nil || !slices.Equal(res.Rotated, []string{app.ID}) {
		t.Fatalf("tick at the period: %+v, %v; want app-1 rotated only", res, err)
	}
	var next storage.Key
	for id, k := range r.stored(t, app.ID) {
		if id != first.ID {
			next = k
		}
	}
	if next.State != storage.KeyNext || !next.ActivatesAt.Equal(due.Add(jwksMaxAge)) || next.Algorithm != "PS256" {
		t.Fatalf("scheduled key: %s activating %s (%s); want next at %s, PS256", next.State, next.ActivatesAt, next.Algorithm, due.Add(jwksMaxAge))
	}
	if got := jwksKIDs(t, r, app.ID, due); !sameSet(got, []string{first.ID, next.ID}) {
		t.Errorf("JWKS right after the scheduled rotation = %v, want both keys", got)
	}
	if got := r.signer(app.ID, due); got != first.ID {
		t.Errorf("signer right after the scheduled rotation = %s, want the old key until the max-age passed", got)
	}
	// While the new key waits, no other rotation starts.
	if res, err := r.maint.Tick(ctx, due.Add(time.Minute)); err != nil || len(res.Rotated) != 0 {
		t.Errorf("tick during the pre-publication: %+v, %v", res, err)
	}
	if res, err := r.maint.Tick(ctx, due.Add(jwksMaxAge)); err != nil || len(res.Rotated) != 0 || !slices.Contains(res.Settled, app.ID) {
		t.Errorf("tick at activation: %+v, %v; want states settled, no rotation", res, err)
	}
	if got := r.signer(app.ID, due.Add(jwksMaxAge)); got != next.ID {
		t.Errorf("signer after activation = %s, want %s", got, next.ID)
	}
	if n := len(r.stored(t, app.ID)); n != 2 {
		t.Errorf("app has %d keys, want 2", n)
	}
}

// Two replicas on one store file race the same scheduled rotation many
// times over: each time exactly one new key is made.
func TestScheduledRotationRaceTwoStores(t *testing.T) {
	t.Parallel()
	path, kek := tempDB(t), newKEK(t)
	a := newReplica(t, path, kek)
	const period = time.Hour
	app, _ := a.createApp(t, "app-1", jose.ES256, period)
	b := newReplica(t, path, kek) // loads the app from the file
	replicas := []*replica{a, b, newReplica(t, path, kek)}

	at := t0
	for round := 1; round <= 5; round++ {
		at = at.Add(period + jwksMaxAge) // the last key has signed for a full period
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			rotated int
		)
		for _, r := range replicas {
			for range 3 {
				wg.Go(func() {
					res, err := r.maint.Tick(t.Context(), at)
					if err != nil {
						t.Errorf("round %d: Tick: %v", round, err)
					}
					mu.Lock()
					rotated += len(res.Rotated)
					mu.Unlock()
				})
			}
		}
		wg.Wait()
		if rotated != 1 {
			t.Errorf("round %d: %d ticks report a rotation, want exactly 1", round, rotated)
		}
		if n := len(a.stored(t, app.ID)); n != round+1 {
			t.Fatalf("round %d: %d keys stored, want %d", round, n, round+1)
		}
		// Let the new key activate before the next round.
		if _, err := a.maint.Tick(t.Context(), at.Add(jwksMaxAge)); err != nil {
			t.Fatal(err)
		}
		at = at.Add(jwksMaxAge)
	}
	// Every replica picks up the outcome at its next tick.
	for i, r := range replicas {
		if _, err := r.maint.Tick(t.Context(), at); err != nil {
			t.Fatal(err)
		}
		if got, want := r.signer(app.ID, at), replicas[0].signer(app.ID, at); got != want || got == "" {
			t.Errorf("replica %d signs with %q, replica 0 with %q", i, got, want)
		}
	}
}

func TestMaintainerPicksUpOtherReplicasChanges(t *testing.T) {
	t.Parallel()
	path, kek := tempDB(t), newKEK(t)
	a, b := newReplica(t, path, kek), newReplica(t, path, kek)
	ctx := t.Context()

	app, first := a.createApp(t, "app-1", jose.RS256, 0)
	if _, ok := b.reg.App(app.ID); ok {
		t.Fatal("replica b knows the app before its tick")
	}
	if _, err := b.maint.Tick(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if got := b.signer(app.ID, t0); got != first.ID {
		t.Fatalf("replica b after its tick: signer %q, want %s", got, first.ID)
	}

	rot, err := a.mgr.Rotate(ctx, app, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.mgr.Revoke(ctx, app, first.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.reg.Key(first.ID); !ok {
		t.Fatal("replica b dropped the key before its tick")
	}
	res, err := b.maint.Tick(ctx, t0)
	if err != nil || !slices.Contains(res.Reloaded, app.ID) {
		t.Fatalf("tick: %+v, %v; want app-1 reloaded", res, err)
	}
	if _, ok := b.reg.Key(first.ID); ok {
		t.Error("replica b still validates with the revoked key after its tick")
	}
	if got := b.signer(app.ID, t0); got != rot.Key.ID {
		t.Errorf("replica b signs with %q, want the promoted key %s", got, rot.Key.ID)
	}
	// Nothing changed since: the next tick reloads nothing.
	if res, err := b.maint.Tick(ctx, t0); err != nil || len(res.Reloaded) != 0 {
		t.Errorf("idle tick: %+v, %v; want nothing reloaded", res, err)
	}
}

// BenchmarkMaintainerTickIdle measures a tick with nothing to do: the cost
// the loop adds every interval on a store of 1000 apps.
func BenchmarkMaintainerTickIdle(b *testing.B) {
	r := newReplica(b, filepath.Join(b.TempDir(), "tokend.db"), newKEK(b))
	for i := range 1000 {
		r.createApp(b, fmt.Sprintf("app-%04d", i), jose.ES256, 24*time.Hour)
	}
	for b.Loop() {
		if res, err := r.maint.Tick(b.Context(), t0.Add(time.Hour)); err != nil || len(res.Reloaded)+len(res.Settled)+len(res.Rotated) != 0 {
			b.Fatalf("idle tick: %+v, %v", res, err)
		}
	}
}

// A tick whose time was taken before an app was made (the app is created
// while the tick runs) leaves the new key alone.
func TestMaintainerTickBehindANewKey(t *testing.T) {
	t.Parallel()
	r := newReplica(t, tempDB(t), newKEK(t))
	r.clock.Set(t0.Add(time.Second))
	app, first := r.createApp(t, "app-1", jose.ES256, 0)
	if _, err := r.maint.Tick(t.Context(), t0); err != nil {
		t.Fatal(err)
	}
	k := r.stored(t, app.ID)[first.ID]
	if k.State != storage.KeyActive || k.SealedPrivateKey == "" || !k.VerifyUntil.IsZero() {
		t.Errorf("new key after a tick that is behind: %s sealed=%v until %s; want untouched", k.State, k.SealedPrivateKey != "", k.VerifyUntil)
	}
	if got := r.signer(app.ID, t0.Add(time.Second)); got != first.ID {
		t.Errorf("signer = %q, want %s", got, first.ID)
	}
}
