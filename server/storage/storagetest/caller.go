package storagetest

import (
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
)

var callerTests = []test{
	{"CreateGet", testCallerCreateGet},
	{"CreateDuplicate", testCallerCreateDuplicate},
	{"GetUnknown", testCallerGetUnknown},
	{"ListByName", testCallerListByName},
	{"Put", testCallerPut},
	{"PutConflict", testCallerPutConflict},
	{"Delete", testCallerDelete},
	{"AddAPIKeyGrace", testCallerAddAPIKey(
		base.Add(24*time.Hour), base.Add(24*time.Hour), base.Add(24*time.Hour), base.Add(time.Hour))},
	{"AddAPIKeyNoGrace", testCallerAddAPIKey(
		time.Time{}, time.Time{}, base.Add(48*time.Hour), base.Add(time.Hour))},
	{"AddAPIKeyRefused", testCallerAddAPIKeyRefused},
}

func newCaller(id, name string) storage.Caller {
	return storage.Caller{
		ID:        id,
		Name:      name,
		Roles:     []string{"issuer", "validator"},
		AppIDs:    []string{"app-1", "app-2"},
		CreatedAt: base,
	}
}

func newAPIKey(callerID, hash string) storage.APIKey {
	return storage.APIKey{Hash: hash, CallerID: callerID, CreatedAt: base}
}

// checkAPIKeys fails the test unless the stored API keys are want, in any
// order.
func checkAPIKeys(t *testing.T, s storage.Store, want ...storage.APIKey) {
	t.Helper()
	got, err := s.ListAPIKeys(t.Context())
	must(t, "ListAPIKeys", err)
	byHash := func(k storage.APIKey) string { return k.Hash }
	check(t, "ListAPIKeys", sorted(got, byHash), sorted(want, byHash))
}

func testCallerCreateGet(t *testing.T, s storage.Store) {
	ctx := t.Context()
	c := newCaller("caller-1", "billing")
	c.MTLSIdentity = "spiffe://example.org/billing"
	key := newAPIKey(c.ID, "hash-1")
	key.ExpiresAt = base.Add(time.Hour)
	must(t, "CreateCaller", s.CreateCaller(ctx, c, key))
	got, err := s.GetCaller(ctx, c.ID)
	must(t, "GetCaller", err)
	check(t, "GetCaller", got, c)

	// No key; a caller with every app and no mTLS identity.
	bare := storage.Caller{ID: "caller-2", Name: "admin", Roles: []string{"admin"}, CreatedAt: base}
	must(t, "CreateCaller without key", s.CreateCaller(ctx, bare, storage.APIKey{}))
	got, err = s.GetCaller(ctx, bare.ID)
	must(t, "GetCaller", err)
	check(t, "GetCaller", got, bare)

	// A key given without CallerID belongs to the new caller.
	must(t, "CreateCaller", s.CreateCaller(ctx, newCaller("caller-3", "sidecar"), storage.APIKey{Hash: "hash-3", CreatedAt: base}))
	checkAPIKeys(t, s, key, newAPIKey("caller-3", "hash-3"))

	// A key naming another caller is refused.
	if err := s.CreateCaller(ctx, newCaller("caller-4", "other"), newAPIKey("caller-1", "hash-4")); err == nil {
		t.Error("CreateCaller with a key of another caller succeeded")
	}
	_, err = s.GetCaller(ctx, "caller-4")
	wantErr(t, "GetCaller of the refused caller", err, storage.ErrNotFound)
}

func testCallerCreateDuplicate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	first := newCaller("caller-1", "billing")
	first.MTLSIdentity = "spiffe://example.org/billing"
	firstKey := newAPIKey(first.ID, "hash-1")
	must(t, "CreateCaller", s.CreateCaller(ctx, first, firstKey))

	for _, tc := range []struct {
		name   string
		caller storage.Caller
		key    storage.APIKey
	}{
		{"id", newCaller("caller-1", "other"), newAPIKey("caller-1", "hash-2")},
		{"name", newCaller("caller-2", "billing"), newAPIKey("caller-2", "hash-2")},
		{"mtls identity", storage.Caller{ID: "caller-2", Name: "other", MTLSIdentity: first.MTLSIdentity}, storage.APIKey{}},
		{"api key hash", newCaller("caller-2", "other"), newAPIKey("caller-2", "hash-1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "CreateCaller", s.CreateCaller(ctx, tc.caller, tc.key), storage.ErrAlreadyExists)
			_, err := s.GetCaller(ctx, "caller-2")
			wantErr(t, "GetCaller of the refused caller", err, storage.ErrNotFound)
			got, err := s.GetCaller(ctx, first.ID)
			must(t, "GetCaller", err)
			check(t, "first caller", got, first)
			checkAPIKeys(t, s, firstKey)
		})
	}

	// An empty mTLS identity is no identity: any number of callers have none.
	must(t, "CreateCaller without mTLS", s.CreateCaller(ctx, newCaller("caller-3", "a"), storage.APIKey{}))
	must(t, "CreateCaller without mTLS", s.CreateCaller(ctx, newCaller("caller-4", "b"), storage.APIKey{}))
}

func testCallerGetUnknown(t *testing.T, s storage.Store) {
	_, err := s.GetCaller(t.Context(), "nope")
	wantErr(t, "GetCaller", err, storage.ErrNotFound)
}

func testCallerListByName(t *testing.T, s storage.Store) {
	ctx := t.Context()
	got, err := s.ListCallers(ctx)
	must(t, "ListCallers", err)
	if len(got) != 0 {
		t.Errorf("ListCallers of an empty store = %v", got)
	}
	carol, alice, bob := newCaller("c-1", "carol"), newCaller("c-2", "alice"), newCaller("c-3", "bob")
	for _, c := range []storage.Caller{carol, alice, bob} {
		must(t, "CreateCaller", s.CreateCaller(ctx, c, storage.APIKey{}))
	}
	got, err = s.ListCallers(ctx)
	must(t, "ListCallers", err)
	check(t, "ListCallers", got, []storage.Caller{alice, bob, carol})
}

// testCallerPut checks the bootstrap path: PutCaller creates, then replaces
// the caller and all of its API keys, and keeps the keys when given none.
func testCallerPut(t *testing.T, s storage.Store) {
	ctx := t.Context()
	admin := storage.Caller{ID: "admin", Name: "admin", Roles: []string{"admin"}, CreatedAt: base}
	k1 := newAPIKey(admin.ID, "hash-1")
	must(t, "PutCaller (create)", s.PutCaller(ctx, admin, k1))
	got, err := s.GetCaller(ctx, admin.ID)
	must(t, "GetCaller", err)
	check(t, "GetCaller after create", got, admin)
	checkAPIKeys(t, s, k1)

	must(t, "AddAPIKey", s.AddAPIKey(ctx, newAPIKey(admin.ID, "hash-2"), time.Time{}))
	other := newCaller("other", "other")
	otherKey := newAPIKey(other.ID, "hash-other")
	must(t, "CreateCaller", s.CreateCaller(ctx, other, otherKey))

	admin.Name, admin.Roles, admin.MTLSIdentity = "root", []string{"admin", "issuer"}, "spiffe://example.org/root"
	admin.CreatedAt = base.Add(time.Hour)
	k3 := newAPIKey(admin.ID, "hash-3")
	must(t, "PutCaller (replace)", s.PutCaller(ctx, admin, k3))
	got, err = s.GetCaller(ctx, admin.ID)
	must(t, "GetCaller", err)
	check(t, "GetCaller after replace", got, admin)
	checkAPIKeys(t, s, k3, otherKey)

	// A restart puts the same caller with the same key again.
	must(t, "PutCaller (same again)", s.PutCaller(ctx, admin, k3))
	checkAPIKeys(t, s, k3, otherKey)

	must(t, "PutCaller (no key)", s.PutCaller(ctx, admin, storage.APIKey{}))
	checkAPIKeys(t, s, k3, otherKey)
}

func testCallerPutConflict(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a, b := newCaller("caller-a", "alice"), newCaller("caller-b", "bob")
	b.MTLSIdentity = "spiffe://example.org/bob"
	ka, kb := newAPIKey(a.ID, "hash-a"), newAPIKey(b.ID, "hash-b")
	must(t, "CreateCaller", s.CreateCaller(ctx, a, ka))
	must(t, "CreateCaller", s.CreateCaller(ctx, b, kb))

	renamed := a
	renamed.Name = "bob"
	sameMTLS := a
	sameMTLS.MTLSIdentity = b.MTLSIdentity
	for _, tc := range []struct {
		name   string
		caller storage.Caller
		key    storage.APIKey
	}{
		{"name of another caller", renamed, newAPIKey(a.ID, "hash-new")},
		{"mtls identity of another caller", sameMTLS, storage.APIKey{}},
		{"key of another caller", a, newAPIKey(a.ID, "hash-b")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "PutCaller", s.PutCaller(ctx, tc.caller, tc.key), storage.ErrAlreadyExists)
			got, err := s.GetCaller(ctx, a.ID)
			must(t, "GetCaller", err)
			check(t, "caller after the refused put", got, a)
			checkAPIKeys(t, s, ka, kb) // a's key was not deleted
		})
	}
}

func testCallerDelete(t *testing.T, s storage.Store) {
	ctx := t.Context()
	c1, c2 := newCaller("caller-1", "one"), newCaller("caller-2", "two")
	k2 := newAPIKey(c2.ID, "hash-2")
	must(t, "CreateCaller", s.CreateCaller(ctx, c1, newAPIKey(c1.ID, "hash-1")))
	must(t, "AddAPIKey", s.AddAPIKey(ctx, newAPIKey(c1.ID, "hash-1b"), time.Time{}))
	must(t, "CreateCaller", s.CreateCaller(ctx, c2, k2))

	must(t, "DeleteCaller", s.DeleteCaller(ctx, c1.ID))
	_, err := s.GetCaller(ctx, c1.ID)
	wantErr(t, "GetCaller after DeleteCaller", err, storage.ErrNotFound)
	checkAPIKeys(t, s, k2)
	wantErr(t, "DeleteCaller again", s.DeleteCaller(ctx, c1.ID), storage.ErrNotFound)

	// Its name and key hash are free again.
	must(t, "CreateCaller reusing name and key", s.CreateCaller(ctx, newCaller("caller-3", "one"), newAPIKey("caller-3", "hash-1")))
}

// testCallerAddAPIKey returns the test of key rotation with a grace
// period: AddAPIKey(graceEnd) must leave the caller's keys with no expiry,
// a late expiry (base+48h) and an early one (base+1h) expiring at the given
// times, and the keys of other callers alone.
func testCallerAddAPIKey(graceEnd, wantOpen, wantLate, wantEarly time.Time) func(*testing.T, storage.Store) {
	return func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		c := newCaller("caller-1", "one")
		open := newAPIKey(c.ID, "hash-open")
		late := newAPIKey(c.ID, "hash-late")
		late.ExpiresAt = base.Add(48 * time.Hour)
		early := newAPIKey(c.ID, "hash-early")
		early.ExpiresAt = base.Add(time.Hour)
		other := newAPIKey("caller-2", "hash-other")
		must(t, "CreateCaller", s.CreateCaller(ctx, c, open))
		must(t, "AddAPIKey", s.AddAPIKey(ctx, late, time.Time{}))
		must(t, "AddAPIKey", s.AddAPIKey(ctx, early, time.Time{}))
		must(t, "CreateCaller", s.CreateCaller(ctx, newCaller("caller-2", "two"), other))

		added := newAPIKey(c.ID, "hash-new")
		must(t, "AddAPIKey", s.AddAPIKey(ctx, added, graceEnd))
		open.ExpiresAt, late.ExpiresAt, early.ExpiresAt = wantOpen, wantLate, wantEarly
		checkAPIKeys(t, s, open, late, early, added, other)
	}
}

func testCallerAddAPIKeyRefused(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a, b := newCaller("caller-a", "alice"), newCaller("caller-b", "bob")
	ka, kb := newAPIKey(a.ID, "hash-a"), newAPIKey(b.ID, "hash-b")
	must(t, "CreateCaller", s.CreateCaller(ctx, a, ka))
	must(t, "CreateCaller", s.CreateCaller(ctx, b, kb))
	graceEnd := base.Add(time.Hour)

	wantErr(t, "AddAPIKey to an unknown caller", s.AddAPIKey(ctx, newAPIKey("nope", "hash-new"), graceEnd), storage.ErrNotFound)
	// The hash is taken: nothing changes, not even the grace expiry.
	wantErr(t, "AddAPIKey with a taken hash", s.AddAPIKey(ctx, newAPIKey(a.ID, "hash-b"), graceEnd), storage.ErrAlreadyExists)
	checkAPIKeys(t, s, ka, kb)
}
