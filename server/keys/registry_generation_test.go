package keys_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/sqlite"
)

// TestRegistryGeneration: every change of the registry moves its
// generation, and nothing else does (the validation cache relies on it).
func TestRegistryGeneration(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tokend.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg := keys.NewRegistry(newKEK(t))
	app := storage.App{ID: "app-1", Name: "one", Enabled: true, CreatedAt: t0, UpdatedAt: t0}

	last := reg.Generation()
	steps := []struct {
		name    string
		do      func() error
		changes bool
	}{
		{"Load", func() error { return reg.Load(t.Context(), st) }, true},
		{"PutApp", func() error { reg.PutApp(app); return nil }, true},
		{"PutKeys", func() error { return reg.PutKeys(app.ID, nil) }, true},
		{"PutAppIfNewer, not newer", func() error { reg.PutAppIfNewer(app); return nil }, false},
		{"PutAppIfNewer, newer", func() error {
			disabled := app
			disabled.Enabled, disabled.UpdatedAt = false, t0.Add(time.Second)
			reg.PutAppIfNewer(disabled)
			return nil
		}, true},
		{"reads", func() error { reg.App(app.ID); reg.Key("k"); reg.AppKeys(app.ID); return nil }, false},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		g := reg.Generation()
		switch {
		case s.changes && g <= last:
			t.Errorf("%s: generation %d, was %d; want it to grow", s.name, g, last)
		case !s.changes && g != last:
			t.Errorf("%s: generation %d, was %d; want it unchanged", s.name, g, last)
		}
		last = g
	}
}
