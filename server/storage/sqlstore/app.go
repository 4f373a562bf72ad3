package sqlstore

import (
	"context"
	"fmt"

	"github.com/tokend/tokend/server/storage"
)

const appColumns = `id, name, description, region, enabled, max_token_ttl, default_token_ttl,
	refresh_idle_ttl, refresh_family_ttl, key_rotation_period, created_at, updated_at`

const (
	insertApp = `INSERT INTO apps (` + appColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	getApp    = `SELECT ` + appColumns + ` FROM apps WHERE id = ?`
	lockApp   = `SELECT 1 FROM apps WHERE id = ?`
	listApps  = `SELECT ` + appColumns + ` FROM apps WHERE id > ? ORDER BY id LIMIT ?`
	updateApp = `UPDATE apps SET name = ?, description = ?, region = ?, enabled = ?,
		max_token_ttl = ?, default_token_ttl = ?, refresh_idle_ttl = ?, refresh_family_ttl = ?,
		key_rotation_period = ?, updated_at = ?
		WHERE id = ?`
)

func scanApp(row Row) (storage.App, error) {
	var a storage.App
	err := row.Scan(&a.ID, &a.Name, &a.Description, &a.Region, &a.Enabled, durCol{&a.MaxTokenTTL},
		durCol{&a.DefaultTokenTTL}, durCol{&a.RefreshIdleTTL}, durCol{&a.RefreshFamilyTTL},
		durCol{&a.KeyRotationPeriod}, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt})
	return a, err
}

// CreateApp stores a new app and its first keys.
func (q *Queries) CreateApp(ctx context.Context, db DB, app storage.App, keys []storage.Key) error {
	if _, err := db.Exec(ctx, q.insertApp, app.ID, app.Name, app.Description, app.Region, app.Enabled,
		int64(app.MaxTokenTTL), int64(app.DefaultTokenTTL), int64(app.RefreshIdleTTL), int64(app.RefreshFamilyTTL),
		int64(app.KeyRotationPeriod), Nanos(app.CreatedAt), Nanos(app.UpdatedAt)); err != nil {
		return err
	}
	for _, k := range keys {
		if err := q.putKey(ctx, db, app.ID, k, false); err != nil {
			return err
		}
	}
	return nil
}

// GetApp returns the app with the given id; storage.ErrNotFound when there
// is none.
func (q *Queries) GetApp(ctx context.Context, db DB, id string) (storage.App, error) {
	a, err := scanApp(db.QueryRow(ctx, q.getApp, id))
	return a, notFound(err)
}

// ListApps returns up to limit apps with an ID after afterID, by ID.
func (q *Queries) ListApps(ctx context.Context, db DB, afterID string, limit int) ([]storage.App, error) {
	if limit <= 0 {
		return nil, nil
	}
	return queryAll(ctx, db, scanApp, q.listApps, afterID, limit)
}

// UpdateApp replaces the app with what fn returns, keeping its ID and
// CreatedAt. It reads the app with the flavor's ForUpdate, so that
// concurrent updates run one after the other. An error of fn comes back
// as a *CallbackError.
func (q *Queries) UpdateApp(ctx context.Context, db DB, id string, fn func(storage.App) (storage.App, error)) (storage.App, error) {
	old, err := scanApp(db.QueryRow(ctx, q.getAppForUpdate, id))
	if err != nil {
		return storage.App{}, notFound(err)
	}
	out, err := fn(old)
	if err != nil {
		return storage.App{}, &CallbackError{err}
	}
	out.ID, out.CreatedAt = old.ID, old.CreatedAt
	if _, err := db.Exec(ctx, q.updateApp, out.Name, out.Description, out.Region, out.Enabled,
		int64(out.MaxTokenTTL), int64(out.DefaultTokenTTL), int64(out.RefreshIdleTTL), int64(out.RefreshFamilyTTL),
		int64(out.KeyRotationPeriod), Nanos(out.UpdatedAt), id); err != nil {
		return storage.App{}, err
	}
	return out, nil
}

const keyColumns = `id, app_id, algorithm, public_jwk, sealed_private_key, state, created_at,
	activates_at, verify_until, revoked_at`

const (
	insertKey = `INSERT INTO app_keys (` + keyColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// The WHERE clause turns the update into a no-op when the ID belongs
	// to another app; no row changes then.
	upsertKey = ` ON CONFLICT (id) DO UPDATE SET algorithm = excluded.algorithm,
		public_jwk = excluded.public_jwk, sealed_private_key = excluded.sealed_private_key,
		state = excluded.state, created_at = excluded.created_at, activates_at = excluded.activates_at,
		verify_until = excluded.verify_until, revoked_at = excluded.revoked_at
		WHERE app_keys.app_id = excluded.app_id`
	listKeys = `SELECT ` + keyColumns + ` FROM app_keys WHERE app_id = ?
		ORDER BY created_at DESC, id DESC`
	listAllKeys = `SELECT ` + keyColumns + ` FROM app_keys
		ORDER BY app_id, created_at DESC, id DESC`
)

func scanKey(row Row) (storage.Key, error) {
	var k storage.Key
	var state string
	err := row.Scan(&k.ID, &k.AppID, &k.Algorithm, &k.PublicJWK, &k.SealedPrivateKey, &state,
		timeCol{&k.CreatedAt}, timeCol{&k.ActivatesAt}, timeCol{&k.VerifyUntil}, timeCol{&k.RevokedAt})
	k.State = storage.KeyState(state)
	return k, err
}

// putKey stores k as a key of appID; with upsert, a key of appID with the
// same ID is replaced. A key ID already used by another app is
// ErrAlreadyExists either way.
func (q *Queries) putKey(ctx context.Context, db DB, appID string, k storage.Key, upsert bool) error {
	if k.AppID == "" {
		k.AppID = appID
	}
	if k.AppID != appID {
		return fmt.Errorf("key %q names app %q", k.ID, k.AppID)
	}
	query := q.insertKey
	if upsert {
		query = q.upsertKey
	}
	n, err := db.Exec(ctx, query, k.ID, k.AppID, k.Algorithm, k.PublicJWK, k.SealedPrivateKey, string(k.State),
		Nanos(k.CreatedAt), Nanos(k.ActivatesAt), Nanos(k.VerifyUntil), Nanos(k.RevokedAt))
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("key %q belongs to another app: %w", k.ID, storage.ErrAlreadyExists)
	}
	return nil
}

// ListKeys returns the keys of an app, newest first.
func (q *Queries) ListKeys(ctx context.Context, db DB, appID string) ([]storage.Key, error) {
	return queryAll(ctx, db, scanKey, q.listKeys, appID)
}

// ListAllKeys returns every key, by app and then newest first.
func (q *Queries) ListAllKeys(ctx context.Context, db DB) ([]storage.Key, error) {
	return queryAll(ctx, db, scanKey, q.listAllKeys)
}

// UpdateKeys applies fn to the keys of an app and upserts the keys it
// returns. It first reads the app row with the flavor's ForUpdate, so
// that concurrent UpdateKeys of one app run one after the other and fn
// always sees the latest keys; storage.ErrNotFound when there is no such
// app. An error of fn comes back as a *CallbackError.
func (q *Queries) UpdateKeys(ctx context.Context, db DB, appID string, fn func([]storage.Key) ([]storage.Key, error)) error {
	var one int
	if err := db.QueryRow(ctx, q.lockApp, appID).Scan(&one); err != nil {
		return notFound(err)
	}
	keys, err := q.ListKeys(ctx, db, appID)
	if err != nil {
		return err
	}
	changed, err := fn(keys)
	if err != nil {
		return &CallbackError{err}
	}
	for _, k := range changed {
		if err := q.putKey(ctx, db, appID, k, true); err != nil {
			return err
		}
	}
	return nil
}
