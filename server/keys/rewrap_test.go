package keys_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/storage"
)

func TestRewrap(t *testing.T) {
	t.Parallel()
	path, oldKEK, newKEK, wrongKEK := tempDB(t), newKEK(t), newKEK(t), newKEK(t)
	r := newReplica(t, path, oldKEK)
	ctx := t.Context()
	var sealed int
	for i, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256, jose.PS256} {
		app, _ := r.createApp(t, "app-"+string(alg), alg, 0)
		if i%2 == 0 { // some apps have a pending next key too
			if _, err := r.mgr.Rotate(ctx, app, "", nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	bring, _ := r.createApp(t, "app-byok", jose.ES256, 0)
	if _, err := r.mgr.Register(ctx, bring.ID, jose.ES256, mustEC(t).Public()); err != nil {
		t.Fatal(err)
	}
	all, _ := r.store.ListAllKeys(ctx)
	for _, k := range all {
		if k.SealedPrivateKey != "" {
			sealed++
		}
	}

	if _, err := keys.Rewrap(ctx, r.store, oldKEK, oldKEK); !errors.Is(err, keys.ErrSameKEK) {
		t.Errorf("rewrap to the same KEK: %v, want ErrSameKEK", err)
	}
	// A wrong "old" KEK changes nothing.
	if _, err := keys.Rewrap(ctx, r.store, wrongKEK, newKEK); !errors.Is(err, keys.ErrSealedKey) {
		t.Fatalf("rewrap with a wrong old KEK: %v, want ErrSealedKey", err)
	}
	if after, _ := r.store.ListAllKeys(ctx); !sameRecords(all, after) {
		t.Fatal("a refused rewrap changed stored keys")
	}

	res, err := keys.Rewrap(ctx, r.store, oldKEK, newKEK)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rewrapped != sealed || res.Already != 0 || res.Apps != 5 {
		t.Errorf("rewrap: %+v, want %d keys of 5 apps", res, sealed)
	}
	if err := keys.NewRegistry(oldKEK).Load(ctx, r.store); !errors.Is(err, keys.ErrSealedKey) {
		t.Errorf("load with the old KEK after rewrap: %v, want ErrSealedKey", err)
	}
	reg := keys.NewRegistry(newKEK)
	if err := reg.Load(ctx, r.store); err != nil {
		t.Fatalf("load with the new KEK: %v", err)
	}
	for _, k := range all {
		if k.State != storage.KeyActive || k.SealedPrivateKey == "" {
			continue
		}
		if sk, ok := reg.SigningKey(k.AppID, t0); !ok || sk.ID != k.ID {
			t.Errorf("app %s: signing key %v, %v after rewrap; want %s", k.AppID, sk.ID, ok, k.ID)
		}
	}
	// Running it again (after an interruption) is harmless.
	res, err = keys.Rewrap(ctx, r.store, oldKEK, newKEK)
	if err != nil || res.Rewrapped != 0 || res.Already != sealed {
		t.Errorf("second rewrap: %+v, %v; want all %d already done", res, err, sealed)
	}
}

func sameRecords(a, b []storage.Key) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].SealedPrivateKey != b[i].SealedPrivateKey {
			return false
		}
	}
	return true
}

func TestReplaceKEKFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kek")
	old, _, err := keys.LoadOrCreateKEKFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k := newKEK(t)
	if err := keys.ReplaceKEKFile(path, k); err != nil {
		t.Fatal(err)
	}
	got, err := keys.LoadKEKFile(path)
	if err != nil || got.ID() != k.ID() || got.ID() == old.ID() {
		t.Fatalf("KEK file holds %v (%v), want the new KEK %s", got, err, k.ID())
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("KEK file mode: %v, %v; want 0600", fi, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the data dir holds %d files, want the KEK file only", len(entries))
	}
}
