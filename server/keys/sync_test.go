package keys_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/storage"
)

// changes records the OnChange calls of a registry.
type changes struct {
	mu  sync.Mutex
	ids []string
}

func (c *changes) record(ids []string) {
	c.mu.Lock()
	c.ids = append(c.ids, ids...)
	c.mu.Unlock()
}

func (c *changes) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := c.ids
	c.ids = nil
	return ids
}

// TestSync follows the changes replica A makes from replica B, app by
// app, as B does when notified: B takes what differs, and only that (an
// unchanged app is not reported to OnChange, so a replica hearing of its
// own change publishes nothing again).
func TestSync(t *testing.T) {
	ctx := t.Context()
	path, kek := tempDB(t), newKEK(t)
	a, b := newReplica(t, path, kek), newReplica(t, path, kek)
	var onA, onB changes
	a.reg.OnChange(onA.record)
	b.reg.OnChange(onB.record)
	syncApp := func(r *replica, id string, want bool) {
		t.Helper()
		got, err := r.mgr.Sync(ctx, r.store, id)
		if err != nil || got != want {
			t.Fatalf("Sync(%s) = %v, %v; want %v", id, got, err, want)
		}
	}

	app, key := a.createApp(t, "app_1", jose.ES256, 0)
	onA.take()
	syncApp(a, app.ID, false) // A's own change, already applied
	if got := onA.take(); len(got) != 0 {
		t.Errorf("A's OnChange after syncing its own change: %v, want nothing", got)
	}
	syncApp(b, app.ID, true)
	if got := b.signer(app.ID, t0); got != key.ID {
		t.Errorf("B signs with %q after Sync, want %s", got, key.ID)
	}
	if got := onB.take(); !slices.Contains(got, app.ID) {
		t.Errorf("B's OnChange after Sync: %v, want %s", got, app.ID)
	}
	syncApp(b, app.ID, false)

	delay := time.Duration(0)
	rot, err := a.mgr.Rotate(ctx, app, "", &delay)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	syncApp(a, app.ID, false)
	syncApp(b, app.ID, true)
	if got := b.signer(app.ID, t0); got != rot.Key.ID {
		t.Errorf("B signs with %q after syncing the rotation, want %s", got, rot.Key.ID)
	}

	// An app record changed elsewhere (disabled), held here with a
	// monotonic clock reading as the app service would.
	disabled, err := a.store.UpdateApp(ctx, app.ID, func(x storage.App) (storage.App, error) {
		x.Enabled, x.UpdatedAt = false, time.Now()
		return x, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a.reg.PutApp(disabled)
	syncApp(a, app.ID, false)
	syncApp(b, app.ID, true)
	if p, ok := b.reg.App(app.ID); !ok || p.Enabled {
		t.Errorf("B's policy after syncing the disable: %+v, %v; want disabled", p, ok)
	}
	syncApp(b, "app_unknown", false)
}

// TestSyncAll resyncs a replica that missed changes: it reports, and
// hands to OnChange, the changed apps only.
func TestSyncAll(t *testing.T) {
	ctx := t.Context()
	path, kek := tempDB(t), newKEK(t)
	a, b := newReplica(t, path, kek), newReplica(t, path, kek)
	var onB changes
	b.reg.OnChange(onB.record)
	app1, _ := a.createApp(t, "app_1", jose.ES256, 0)
	a.createApp(t, "app_2", jose.EdDSA, 0)
	if got, err := b.mgr.SyncAll(ctx, b.store); err != nil || !slices.Equal(got, []string{"app_1", "app_2"}) {
		t.Fatalf("SyncAll = %v, %v; want both apps", got, err)
	}
	onB.take()
	if got, err := b.mgr.SyncAll(ctx, b.store); err != nil || len(got) != 0 {
		t.Errorf("SyncAll with nothing changed = %v, %v; want nothing", got, err)
	}
	if _, err := a.mgr.Rotate(ctx, app1, "", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := b.mgr.SyncAll(ctx, b.store); err != nil || !slices.Equal(got, []string{"app_1"}) {
		t.Errorf("SyncAll after a rotation of app_1 = %v, %v; want [app_1]", got, err)
	}
	if got := onB.take(); slices.Contains(got, "app_2") {
		t.Errorf("OnChange after SyncAll: %v, want app_1 only", got)
	}
}
