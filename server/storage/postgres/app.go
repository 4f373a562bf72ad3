package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/server/storage"
)

const appColumns = `id, name, description, region, enabled, max_token_ttl, default_token_ttl,
	refresh_idle_ttl, refresh_family_ttl, key_rotation_period, created_at, updated_at`

func scanApp(row pgx.Row) (storage.App, error) {
	var a storage.App
	err := row.Scan(&a.ID, &a.Name, &a.Description, &a.Region, &a.Enabled, durCol{&a.MaxTokenTTL},
		durCol{&a.DefaultTokenTTL}, durCol{&a.RefreshIdleTTL}, durCol{&a.RefreshFamilyTTL},
		durCol{&a.KeyRotationPeriod}, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt})
	return a, err
}

// CreateApp stores a new app and its first keys in one transaction.
func (s *Store) CreateApp(ctx context.Context, app storage.App, keys []storage.Key) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO apps (`+appColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			app.ID, app.Name, app.Description, app.Region, app.Enabled, int64(app.MaxTokenTTL),
			int64(app.DefaultTokenTTL), int64(app.RefreshIdleTTL), int64(app.RefreshFamilyTTL),
			int64(app.KeyRotationPeriod), nanos(app.CreatedAt), nanos(app.UpdatedAt)); err != nil {
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
	a, err := getApp(ctx, s.pool, id, "")
	if err != nil {
		return storage.App{}, s.wrap(err, "get app %q", id)
	}
	return a, nil
}

// getApp reads one app; lock is "" or a locking clause such as FOR UPDATE.
func getApp(ctx context.Context, q querier, id, lock string) (storage.App, error) {
	a, err := scanApp(q.QueryRow(ctx, `SELECT `+appColumns+` FROM apps WHERE id = $1 `+lock, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.App{}, storage.ErrNotFound
	}
	return a, err
}

// ListApps returns up to limit apps with an ID after afterID, by ID.
func (s *Store) ListApps(ctx context.Context, afterID string, limit int) ([]storage.App, error) {
	if limit <= 0 {
		return nil, nil
	}
	apps, err := queryAll(ctx, s.pool, scanApp, `SELECT `+appColumns+` FROM apps WHERE id > $1 ORDER BY id LIMIT $2`,
		afterID, limit)
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
	var fnErr error
	err := s.tx(ctx, func(tx pgx.Tx) error {
		old, err := getApp(ctx, tx, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if out, fnErr = fn(old); fnErr != nil {
			return fnErr
		}
		out.ID, out.CreatedAt = old.ID, old.CreatedAt
		_, err = tx.Exec(ctx, `UPDATE apps SET name = $1, description = $2, region = $3, enabled = $4,
			max_token_ttl = $5, default_token_ttl = $6, refresh_idle_ttl = $7, refresh_family_ttl = $8,
			key_rotation_period = $9, updated_at = $10
			WHERE id = $11`,
			out.Name, out.Description, out.Region, out.Enabled, int64(out.MaxTokenTTL), int64(out.DefaultTokenTTL),
			int64(out.RefreshIdleTTL), int64(out.RefreshFamilyTTL), int64(out.KeyRotationPeriod), nanos(out.UpdatedAt), id)
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

func scanKey(row pgx.Row) (storage.Key, error) {
	var k storage.Key
	var state string
	err := row.Scan(&k.ID, &k.AppID, &k.Algorithm, &k.PublicJWK, &k.SealedPrivateKey, &state,
		timeCol{&k.CreatedAt}, timeCol{&k.ActivatesAt}, timeCol{&k.VerifyUntil}, timeCol{&k.RevokedAt})
	k.State = storage.KeyState(state)
	return k, err
}

// insertKey stores k as a key of appID; with upsert, a key of appID with
// the same ID is replaced. A key ID already used by another app is
// ErrAlreadyExists either way.
func insertKey(ctx context.Context, tx pgx.Tx, appID string, k storage.Key, upsert bool) error {
	if k.AppID == "" {
		k.AppID = appID
	}
	if k.AppID != appID {
		return fmt.Errorf("key %q names app %q", k.ID, k.AppID)
	}
	query := `INSERT INTO app_keys (` + keyColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	if upsert {
		// The WHERE clause turns the update into a no-op when the ID
		// belongs to another app; no row changes then.
		query += ` ON CONFLICT (id) DO UPDATE SET algorithm = excluded.algorithm,
			public_jwk = excluded.public_jwk, sealed_private_key = excluded.sealed_private_key,
			state = excluded.state, created_at = excluded.created_at, activates_at = excluded.activates_at,
			verify_until = excluded.verify_until, revoked_at = excluded.revoked_at
			WHERE app_keys.app_id = excluded.app_id`
	}
	tag, err := tx.Exec(ctx, query, k.ID, k.AppID, k.Algorithm, k.PublicJWK, k.SealedPrivateKey, string(k.State),
		nanos(k.CreatedAt), nanos(k.ActivatesAt), nanos(k.VerifyUntil), nanos(k.RevokedAt))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("key %q belongs to another app: %w", k.ID, storage.ErrAlreadyExists)
	}
	return nil
}

// ListKeys returns the keys of an app, newest first.
func (s *Store) ListKeys(ctx context.Context, appID string) ([]storage.Key, error) {
	keys, err := listKeys(ctx, s.pool, appID)
	if err != nil {
		return nil, s.wrap(err, "list keys of app %q", appID)
	}
	return keys, nil
}

func listKeys(ctx context.Context, q querier, appID string) ([]storage.Key, error) {
	return queryAll(ctx, q, scanKey, `SELECT `+keyColumns+` FROM app_keys WHERE app_id = $1
		ORDER BY created_at DESC, id DESC`, appID)
}

// ListAllKeys returns every key, by app and then newest first.
func (s *Store) ListAllKeys(ctx context.Context) ([]storage.Key, error) {
	keys, err := queryAll(ctx, s.pool, scanKey, `SELECT `+keyColumns+` FROM app_keys
		ORDER BY app_id, created_at DESC, id DESC`)
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
	var fnErr error
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockApp(ctx, tx, appID); err != nil {
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

// lockApp locks the row of an app until the transaction ends; ErrNotFound
// when there is none.
func lockApp(ctx context.Context, tx pgx.Tx, id string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM apps WHERE id = $1 FOR UPDATE`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.ErrNotFound
	}
	return err
}
