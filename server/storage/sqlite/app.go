package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tokend/tokend/server/storage"
)

const appColumns = `id, name, description, region, enabled, max_token_ttl, default_token_ttl,
	refresh_idle_ttl, refresh_family_ttl, key_rotation_period, created_at, updated_at`

func scanApp(sc scanner) (storage.App, error) {
	var a storage.App
	err := sc.Scan(&a.ID, &a.Name, &a.Description, &a.Region, &a.Enabled, &a.MaxTokenTTL, &a.DefaultTokenTTL,
		&a.RefreshIdleTTL, &a.RefreshFamilyTTL, &a.KeyRotationPeriod, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt})
	return a, err
}

// CreateApp stores a new app and its first keys in one transaction.
func (s *Store) CreateApp(ctx context.Context, app storage.App, keys []storage.Key) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO apps (`+appColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			app.ID, app.Name, app.Description, app.Region, app.Enabled, app.MaxTokenTTL, app.DefaultTokenTTL,
			app.RefreshIdleTTL, app.RefreshFamilyTTL, app.KeyRotationPeriod, nanos(app.CreatedAt), nanos(app.UpdatedAt)); err != nil {
			return err
		}
		for _, k := range keys {
			if err := insertKey(ctx, tx, app.ID, k, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.wrap(err, "create app %q", app.ID)
	}
	return nil
}

// GetApp returns the app with the given id.
func (s *Store) GetApp(ctx context.Context, id string) (storage.App, error) {
	a, err := getApp(ctx, s.r, id)
	if err != nil {
		return storage.App{}, s.wrap(err, "get app %q", id)
	}
	return a, nil
}

func getApp(ctx context.Context, q querier, id string) (storage.App, error) {
	a, err := scanApp(q.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.App{}, storage.ErrNotFound
	}
	return a, err
}

// ListApps returns up to limit apps with an ID after afterID, by ID.
func (s *Store) ListApps(ctx context.Context, afterID string, limit int) ([]storage.App, error) {
	if limit <= 0 {
		return nil, nil
	}
	apps, err := queryAll(ctx, s.r, scanApp, `SELECT `+appColumns+` FROM apps WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, s.wrap(err, "list apps after %q", afterID)
	}
	return apps, nil
}

// UpdateApp atomically replaces the app with what fn returns, keeping its ID
// and CreatedAt.
func (s *Store) UpdateApp(ctx context.Context, id string, fn func(storage.App) (storage.App, error)) (storage.App, error) {
	var out storage.App
	var fnErr error
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		old, err := getApp(ctx, tx, id)
		if err != nil {
			return err
		}
		if out, fnErr = fn(old); fnErr != nil {
			return fnErr
		}
		out.ID, out.CreatedAt = old.ID, old.CreatedAt
		_, err = tx.ExecContext(ctx, `UPDATE apps SET name = ?, description = ?, region = ?, enabled = ?,
			max_token_ttl = ?, default_token_ttl = ?, refresh_idle_ttl = ?, refresh_family_ttl = ?,
			key_rotation_period = ?, updated_at = ?
			WHERE id = ?`,
			out.Name, out.Description, out.Region, out.Enabled, out.MaxTokenTTL, out.DefaultTokenTTL,
			out.RefreshIdleTTL, out.RefreshFamilyTTL, out.KeyRotationPeriod, nanos(out.UpdatedAt), id)
		return err
	})
	switch {
	case fnErr != nil:
		return storage.App{}, fnErr
	case err != nil:
		return storage.App{}, s.wrap(err, "update app %q", id)
	}
	return out, nil
}

const keyColumns = `id, app_id, algorithm, public_jwk, sealed_private_key, state, created_at,
	activates_at, verify_until, revoked_at`

func scanKey(sc scanner) (storage.Key, error) {
	var k storage.Key
	err := sc.Scan(&k.ID, &k.AppID, &k.Algorithm, &k.PublicJWK, &k.SealedPrivateKey, &k.State,
		timeCol{&k.CreatedAt}, timeCol{&k.ActivatesAt}, timeCol{&k.VerifyUntil}, timeCol{&k.RevokedAt})
	return k, err
}

// insertKey stores k as a key of appID; with upsert, a key of appID with
// the same ID is replaced. A key ID already used by another app is
// ErrAlreadyExists either way.
func insertKey(ctx context.Context, tx *wtx, appID string, k storage.Key, upsert bool) error {
	if k.AppID == "" {
		k.AppID = appID
	}
	if k.AppID != appID {
		return fmt.Errorf("key %q names app %q", k.ID, k.AppID)
	}
	query := `INSERT INTO app_keys (` + keyColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	if upsert {
		// The WHERE clause turns the update into a no-op when the ID
		// belongs to another app; no row changes then.
		query += ` ON CONFLICT (id) DO UPDATE SET algorithm = excluded.algorithm,
			public_jwk = excluded.public_jwk, sealed_private_key = excluded.sealed_private_key,
			state = excluded.state, created_at = excluded.created_at, activates_at = excluded.activates_at,
			verify_until = excluded.verify_until, revoked_at = excluded.revoked_at
			WHERE app_keys.app_id = excluded.app_id`
	}
	res, err := tx.ExecContext(ctx, query, k.ID, k.AppID, k.Algorithm, k.PublicJWK, k.SealedPrivateKey, k.State,
		nanos(k.CreatedAt), nanos(k.ActivatesAt), nanos(k.VerifyUntil), nanos(k.RevokedAt))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("key %q belongs to another app: %w", k.ID, storage.ErrAlreadyExists)
	}
	return nil
}

// ListKeys returns the keys of an app, newest first.
func (s *Store) ListKeys(ctx context.Context, appID string) ([]storage.Key, error) {
	keys, err := listKeys(ctx, s.r, appID)
	if err != nil {
		return nil, s.wrap(err, "list keys of app %q", appID)
	}
	return keys, nil
}

func listKeys(ctx context.Context, q querier, appID string) ([]storage.Key, error) {
	return queryAll(ctx, q, scanKey, `SELECT `+keyColumns+` FROM app_keys WHERE app_id = ?
		ORDER BY created_at DESC, id DESC`, appID)
}

// ListAllKeys returns every key, by app and then newest first.
func (s *Store) ListAllKeys(ctx context.Context) ([]storage.Key, error) {
	keys, err := queryAll(ctx, s.r, scanKey, `SELECT `+keyColumns+` FROM app_keys
		ORDER BY app_id, created_at DESC, id DESC`)
	if err != nil {
		return nil, s.wrap(err, "list all keys")
	}
	return keys, nil
}

// UpdateKeys atomically applies fn to the keys of an app and upserts the keys
// it returns.
func (s *Store) UpdateKeys(ctx context.Context, appID string, fn func([]storage.Key) ([]storage.Key, error)) error {
	var fnErr error
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		if _, err := getApp(ctx, tx, appID); err != nil {
			return err
		}
		keys, err := listKeys(ctx, tx, appID)
		if err != nil {
			return err
		}
		var changed []storage.Key
		if changed, fnErr = fn(keys); fnErr != nil {
			return fnErr
		}
		for _, k := range changed {
			if err := insertKey(ctx, tx, appID, k, true); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return s.wrap(err, "update keys of app %q", appID)
	}
	return nil
}
