package keys

import (
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// sealedKey is a record with a (fake) sealed private half: the lifecycle
// rules only look at whether there is one.
func sealedKey(id string, state storage.KeyState, activates, verifyUntil time.Time) storage.Key {
	return storage.Key{ID: id, AppID: "app", Algorithm: "ES256", SealedPrivateKey: "sealed-" + id, State: state,
		CreatedAt: activates, ActivatesAt: activates, VerifyUntil: verifyUntil}
}

func TestStateAt(t *testing.T) {
	t.Parallel()
	var zero time.Time
	rotated := []storage.Key{
		sealedKey("new", storage.KeyNext, t0.Add(5*time.Minute), zero),
		sealedKey("old", storage.KeyActive, t0.Add(-time.Hour), t0.Add(time.Hour+5*time.Minute)),
		{ID: "byok", AppID: "app", State: storage.KeyActive, CreatedAt: t0, ActivatesAt: t0},
	}
	revoked := sealedKey("rev", storage.KeyActive, t0.Add(-time.Hour), zero)
	revoked.RevokedAt = t0.Add(-time.Minute)
	tests := []struct {
		name string
		ks   []storage.Key
		at   time.Time
		want []storage.KeyState
	}{
		{"before activation", rotated, t0, []storage.KeyState{storage.KeyNext, storage.KeyActive, storage.KeyActive}},
		{"at activation", rotated, t0.Add(5 * time.Minute), []storage.KeyState{storage.KeyActive, storage.KeyVerifyOnly, storage.KeyActive}},
		{"window closed", rotated, t0.Add(time.Hour + 5*time.Minute), []storage.KeyState{storage.KeyActive, storage.KeyRetired, storage.KeyActive}},
		{"revoked", []storage.Key{revoked}, t0, []storage.KeyState{storage.KeyRetired}},
		{"stored verify-only never signs again", []storage.Key{sealedKey("v", storage.KeyVerifyOnly, t0, zero)}, t0, []storage.KeyState{storage.KeyVerifyOnly}},
		{"active key made after now (a tick that is behind)", []storage.Key{
			sealedKey("fresh", storage.KeyActive, t0.Add(time.Millisecond), zero),
		}, t0, []storage.KeyState{storage.KeyActive}},
		{"superseded next key", []storage.Key{
			sealedKey("b", storage.KeyNext, t0.Add(2*time.Minute), zero),
			sealedKey("a", storage.KeyNext, t0.Add(time.Minute), t0.Add(time.Hour)),
		}, t0.Add(3 * time.Minute), []storage.KeyState{storage.KeyActive, storage.KeyVerifyOnly}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signer := signerIndex(tt.ks, tt.at)
			for i := range tt.ks {
				if got := stateAt(tt.ks, i, signer, tt.at); got != tt.want[i] {
					t.Errorf("key %s: state %s, want %s", tt.ks[i].ID, got, tt.want[i])
				}
			}
		})
	}
}

func TestSettleErasesPrivateKeysThatNeverSignAgain(t *testing.T) {
	t.Parallel()
	app := storage.App{ID: "app", MaxTokenTTL: time.Hour}
	ks := []storage.Key{
		sealedKey("new", storage.KeyNext, t0, time.Time{}),
		sealedKey("old", storage.KeyActive, t0.Add(-time.Hour), t0.Add(time.Hour)),
		sealedKey("older", storage.KeyActive, t0.Add(-2*time.Hour), time.Time{}), // no end: gets one
	}
	if !settle(app, ks, t0, 30*time.Second) {
		t.Fatal("settle changed nothing")
	}
	if ks[0].State != storage.KeyActive || ks[0].SealedPrivateKey == "" {
		t.Errorf("new key: %s, sealed %v; want active with its private key", ks[0].State, ks[0].SealedPrivateKey != "")
	}
	for _, k := range ks[1:] {
		if k.State != storage.KeyVerifyOnly || k.SealedPrivateKey != "" {
			t.Errorf("key %s: %s, sealed %v; want verify-only with its private key erased", k.ID, k.State, k.SealedPrivateKey != "")
		}
	}
	if want := t0.Add(time.Hour + 30*time.Second); !ks[2].VerifyUntil.Equal(want) {
		t.Errorf("key without an end: verify until %s, want %s", ks[2].VerifyUntil, want)
	}
	if settle(app, ks, t0, 30*time.Second) {
		t.Error("a second settle changed something")
	}
}

func TestRotationDue(t *testing.T) {
	t.Parallel()
	app := storage.App{ID: "app", MaxTokenTTL: time.Hour, KeyRotationPeriod: 24 * time.Hour}
	active := []storage.Key{sealedKey("a", storage.KeyActive, t0, time.Time{})}
	pending := append([]storage.Key{sealedKey("n", storage.KeyNext, t0.Add(24*time.Hour+5*time.Minute), time.Time{})}, active...)
	off := app
	off.KeyRotationPeriod = 0
	revoked := sealedKey("a", storage.KeyActive, t0, time.Time{})
	revoked.RevokedAt = t0
	tests := []struct {
		name string
		app  storage.App
		ks   []storage.Key
		at   time.Time
		want bool
	}{
		{"young key", app, active, t0.Add(23 * time.Hour), false},
		{"old key", app, active, t0.Add(24 * time.Hour), true},
		{"rotation off", off, active, t0.Add(48 * time.Hour), false},
		{"rotation in progress", app, pending, t0.Add(24*time.Hour + time.Minute), false},
		{"no signing key", app, []storage.Key{revoked}, t0.Add(48 * time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rotationDue(tt.app, tt.ks, tt.at); got != tt.want {
				t.Errorf("rotationDue = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReplaceByLeavesRegisteredKeysAlone(t *testing.T) {
	t.Parallel()
	app := storage.App{ID: "app", MaxTokenTTL: time.Hour}
	next := sealedKey("next", storage.KeyNext, t0.Add(5*time.Minute), time.Time{})
	ks := []storage.Key{
		next,
		sealedKey("active", storage.KeyActive, t0.Add(-time.Hour), time.Time{}),
		sealedKey("closing", storage.KeyActive, t0.Add(-2*time.Hour), t0.Add(time.Minute)),
		{ID: "byok", AppID: "app", State: storage.KeyActive, CreatedAt: t0, ActivatesAt: t0},
	}
	replaceBy(app, ks, next, 30*time.Second)
	want := t0.Add(5*time.Minute + time.Hour + 30*time.Second)
	for _, c := range []struct {
		i     int
		until time.Time
	}{{0, time.Time{}}, {1, want}, {2, t0.Add(time.Minute)}, {3, time.Time{}}} {
		if !ks[c.i].VerifyUntil.Equal(c.until) {
			t.Errorf("key %s: verify until %v, want %v", ks[c.i].ID, ks[c.i].VerifyUntil, c.until)
		}
	}
}
