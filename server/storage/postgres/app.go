package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/server/storage"
)

// CreateApp stores a new app and its first keys in one transaction.
func (s *Store) CreateApp(ctx context.Context, app storage.App, keys []storage.Key) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		return queries.CreateApp(ctx, conn{tx}, app, keys)
	})
	if err != nil {
		return s.wrap(err, "create app %q", app.ID)
	}
	return nil
}

// GetApp returns the app with the given id.
func (s *Store) GetApp(ctx context.Context, id string) (storage.App, error) {
	a, err := queries.GetApp(ctx, s.db, id)
	if err != nil {
		return storage.App{}, s.wrap(err, "get app %q", id)
	}
	return a, nil
}

// ListApps returns up to limit apps with an ID after afterID, by ID.
func (s *Store) ListApps(ctx context.Context, afterID string, limit int) ([]storage.App, error) {
	apps, err := queries.ListApps(ctx, s.db, afterID, limit)
	if err != nil {
		return nil, s.wrap(err, "list apps after %q", afterID)
	}
	return apps, nil
}

// UpdateApp atomically replaces the app with what fn returns, keeping its ID
// and CreatedAt. The app row is locked (FOR UPDATE) from the read to the
// commit, so concurrent updates from any replica run one after the other.
func (s *Store) UpdateApp(ctx context.Context, id string, fn func(storage.App) (storage.App, error)) (storage.App, error) {
	var out storage.App
	err := s.tx(ctx, func(tx pgx.Tx) (err error) {
		out, err = queries.UpdateApp(ctx, conn{tx}, id, fn)
		return err
	})
	if err != nil {
		return storage.App{}, s.wrap(err, "update app %q", id)
	}
	return out, nil
}

// ListKeys returns the keys of an app, newest first.
func (s *Store) ListKeys(ctx context.Context, appID string) ([]storage.Key, error) {
	keys, err := queries.ListKeys(ctx, s.db, appID)
	if err != nil {
		return nil, s.wrap(err, "list keys of app %q", appID)
	}
	return keys, nil
}

// ListAllKeys returns every key, by app and then newest first.
func (s *Store) ListAllKeys(ctx context.Context) ([]storage.Key, error) {
	keys, err := queries.ListAllKeys(ctx, s.db)
	if err != nil {
		return nil, s.wrap(err, "list all keys")
	}
	return keys, nil
}

// UpdateKeys atomically applies fn to the keys of an app and upserts the keys
// it returns. The app row is locked (FOR UPDATE) first, so concurrent
// UpdateKeys of one app, from any replica, run one after the other and fn
// always sees the latest keys.
func (s *Store) UpdateKeys(ctx context.Context, appID string, fn func([]storage.Key) ([]storage.Key, error)) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		return queries.UpdateKeys(ctx, conn{tx}, appID, fn)
	})
	if err != nil {
		return s.wrap(err, "update keys of app %q", appID)
	}
	return nil
}
