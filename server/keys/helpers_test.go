package keys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/sqlite"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

const (
	leeway = 30 * time.Second
	// jwksMaxAge is the default activation delay of the test managers.
	jwksMaxAge = 5 * time.Minute
)

// clock is a time tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// replica is one tokend's key machinery on a store file.
type replica struct {
	store *sqlite.Store
	reg   *keys.Registry
	mgr   *keys.Manager
	maint *keys.Maintainer
	clock *clock
}

func newKEK(t testing.TB) *keys.KEK {
	t.Helper()
	raw := make([]byte, keys.KEKSize)
	_, _ = rand.Read(raw)
	k, err := keys.NewKEK(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newReplica opens the store at path (shared by the replicas of a test)
// and loads its keys.
func newReplica(t testing.TB, path string, kek *keys.KEK) *replica {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c := &clock{now: t0}
	reg := keys.NewRegistry(kek)
	if err := reg.Load(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	mgr := keys.NewManager(st, kek, reg, c.Now, leeway, jwksMaxAge)
	return &replica{store: st, reg: reg, mgr: mgr, maint: keys.NewMaintainer(st, mgr, nil), clock: c}
}

func tempDB(t *testing.T) string { return filepath.Join(t.TempDir(), "tokend.db") }

// createApp stores an app with a first key of alg, active at the clock's
// time, the way the app service does.
func (r *replica) createApp(t testing.TB, id string, alg jose.SignatureAlgorithm, rotation time.Duration) (storage.App, storage.Key) {
	t.Helper()
	now := r.clock.Now()
	a := storage.App{ID: id, Name: id, Enabled: true, MaxTokenTTL: time.Hour, DefaultTokenTTL: time.Hour,
		RefreshIdleTTL: time.Hour, RefreshFamilyTTL: time.Hour, KeyRotationPeriod: rotation, CreatedAt: now, UpdatedAt: now}
	k, _, err := r.mgr.NewKey(id, alg, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.store.CreateApp(t.Context(), a, []storage.Key{k}); err != nil {
		t.Fatal(err)
	}
	r.reg.PutApp(a)
	if err := r.reg.PutKeys(id, []storage.Key{k}); err != nil {
		t.Fatal(err)
	}
	return a, k
}

// stored returns the stored keys of an app by id.
func (r *replica) stored(t *testing.T, appID string) map[string]storage.Key {
	t.Helper()
	ks, err := r.store.ListKeys(t.Context(), appID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]storage.Key{}
	for _, k := range ks {
		out[k.ID] = k
	}
	return out
}

// signer returns the id of the key that signs for the app at now ("" when
// none).
func (r *replica) signer(appID string, now time.Time) string {
	k, ok := r.reg.SigningKey(appID, now)
	if !ok {
		return ""
	}
	return k.ID
}

func ptr[T any](v T) *T { return &v }

func mustEC(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
