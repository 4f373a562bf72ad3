package keys

import (
	"context"
	"errors"
	"fmt"

	"github.com/tokend/tokend/server/storage"
)

// SyncSource is what Sync and SyncAll read: the store.
type SyncSource interface {
	Source
	GetApp(ctx context.Context, id string) (storage.App, error)
	ListKeys(ctx context.Context, appID string) ([]storage.Key, error)
}

// Sync brings one app of the Registry in line with the store, after
// another replica changed it: its record when it differs from the one
// held, its keys when they differ. Unlike Reload it leaves an unchanged
// app alone (no OnChange call), so that a replica hearing of its own
// change does nothing more. An app the store does not have is left as it
// is (apps are never deleted). It reports whether anything changed.
func (m *Manager) Sync(ctx context.Context, src SyncSource, appID string) (bool, error) {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	a, err := src.GetApp(ctx, appID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("keys: sync app %q: %w", appID, err)
	}
	ks, err := src.ListKeys(ctx, appID)
	if err != nil {
		return false, fmt.Errorf("keys: sync app %q: %w", appID, err)
	}
	return m.put(a, ks)
}

// SyncAll brings the whole Registry in line with the store (as Sync does
// for one app) and returns the ids of the apps it changed. Unlike
// Registry.Load it reports, and opens the sealed keys of, only what
// changed: it is the periodic safety net of replicas that learn of
// changes by notification.
func (m *Manager) SyncAll(ctx context.Context, src SyncSource) ([]string, error) {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	var apps []storage.App
	for after := ""; ; {
		page, err := src.ListApps(ctx, after, 500)
		if err != nil {
			return nil, fmt.Errorf("keys: sync: %w", err)
		}
		apps = append(apps, page...)
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	all, err := src.ListAllKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: sync: %w", err)
	}
	byApp := map[string][]storage.Key{}
	for _, k := range all {
		byApp[k.AppID] = append(byApp[k.AppID], k)
	}
	var (
		changed []string
		errs    []error
	)
	for _, a := range apps {
		ok, err := m.put(a, byApp[a.ID])
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			changed = append(changed, a.ID)
		}
	}
	return changed, errors.Join(errs...)
}

// put stores an app's record and keys in the Registry where they differ
// from what it holds; m.reloadMu is held.
func (m *Manager) put(a storage.App, ks []storage.Key) (bool, error) {
	r := m.registry
	changed := false
	if held, ok := r.StoredApp(a.ID); !ok || !sameApp(held, a) {
		r.PutApp(a)
		changed = true
	}
	if r.keysDiffer(a.ID, ks) {
		if err := r.PutKeys(a.ID, ks); err != nil {
			return changed, err
		}
		changed = true
	}
	return changed, nil
}

// sameApp reports whether two records of an app are equal (times by
// instant: a record made in this process carries a monotonic reading and
// a location that the stored one lacks).
func sameApp(a, b storage.App) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !a.UpdatedAt.Equal(b.UpdatedAt) {
		return false
	}
	a.CreatedAt, a.UpdatedAt = b.CreatedAt, b.UpdatedAt
	return a == b
}
