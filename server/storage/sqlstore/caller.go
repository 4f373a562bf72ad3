package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/tokend/tokend/server/storage"
)

const callerColumns = `id, name, roles, app_ids, mtls_identity, created_at`

const (
	insertCaller = `INSERT INTO callers (` + callerColumns + `) VALUES (?, ?, ?, ?, ?, ?)`
	// An upsert, not a delete and insert (or SQLite's INSERT OR REPLACE):
	// deleting the row would cascade to the caller's API keys.
	putCaller = ` ON CONFLICT (id) DO UPDATE SET name = excluded.name, roles = excluded.roles,
		app_ids = excluded.app_ids, mtls_identity = excluded.mtls_identity, created_at = excluded.created_at`
	getCaller    = `SELECT ` + callerColumns + ` FROM callers WHERE id = ?`
	listCallers  = `SELECT ` + callerColumns + ` FROM callers ORDER BY name`
	deleteCaller = `DELETE FROM callers WHERE id = ?`
	lockCaller   = `SELECT 1 FROM callers WHERE id = ?`
)

func (q *Queries) scanCaller(row Row) (storage.Caller, error) {
	var c storage.Caller
	err := row.Scan(&c.ID, &c.Name, q.listDest(&c.Roles), q.listDest(&c.AppIDs), &c.MTLSIdentity, timeCol{&c.CreatedAt})
	c.Roles, c.AppIDs = nilIfEmpty(c.Roles), nilIfEmpty(c.AppIDs)
	return c, err
}

const apiKeyColumns = `hash, caller_id, created_at, expires_at`

const (
	insertAPIKey  = `INSERT INTO api_keys (` + apiKeyColumns + `) VALUES (?, ?, ?, ?)`
	deleteAPIKeys = `DELETE FROM api_keys WHERE caller_id = ?`
	expireAPIKeys = `UPDATE api_keys SET expires_at = ?
		WHERE caller_id = ? AND (expires_at = 0 OR expires_at > ?)`
	listAPIKeys = `SELECT ` + apiKeyColumns + ` FROM api_keys
		ORDER BY caller_id, created_at, hash`
)

func scanAPIKey(row Row) (storage.APIKey, error) {
	var k storage.APIKey
	err := row.Scan(&k.Hash, &k.CallerID, timeCol{&k.CreatedAt}, timeCol{&k.ExpiresAt})
	return k, err
}

// CreateCaller stores a new caller and, when key.Hash is set, its API key.
func (q *Queries) CreateCaller(ctx context.Context, db DB, c storage.Caller, key storage.APIKey) error {
	return q.writeCaller(ctx, db, q.insertCaller, c, key, false)
}

// PutCaller creates or replaces the caller c.ID and, when key.Hash is set,
// replaces its API keys with key.
func (q *Queries) PutCaller(ctx context.Context, db DB, c storage.Caller, key storage.APIKey) error {
	return q.writeCaller(ctx, db, q.putCaller, c, key, true)
}

// writeCaller stores c with query and, when key.Hash is set, adds key;
// with replaceKeys, key replaces the caller's other keys.
func (q *Queries) writeCaller(ctx context.Context, db DB, query string, c storage.Caller, key storage.APIKey, replaceKeys bool) error {
	if _, err := db.Exec(ctx, query, c.ID, c.Name, q.list(c.Roles), q.list(c.AppIDs),
		c.MTLSIdentity, Nanos(c.CreatedAt)); err != nil {
		return err
	}
	if key.Hash == "" {
		return nil
	}
	if replaceKeys {
		if _, err := db.Exec(ctx, q.deleteAPIKeys, c.ID); err != nil {
			return err
		}
	}
	return q.insertKeyOf(ctx, db, c.ID, key)
}

// insertKeyOf stores key as an API key of callerID.
func (q *Queries) insertKeyOf(ctx context.Context, db DB, callerID string, key storage.APIKey) error {
	if key.CallerID == "" {
		key.CallerID = callerID
	}
	if key.CallerID != callerID {
		return fmt.Errorf("api key names caller %q", key.CallerID)
	}
	_, err := db.Exec(ctx, q.insertAPIKey, key.Hash, key.CallerID, Nanos(key.CreatedAt), Nanos(key.ExpiresAt))
	return err
}

// GetCaller returns the caller with the given id; storage.ErrNotFound when
// there is none.
func (q *Queries) GetCaller(ctx context.Context, db DB, id string) (storage.Caller, error) {
	c, err := q.scanCaller(db.QueryRow(ctx, q.getCaller, id))
	return c, notFound(err)
}

// ListCallers returns every caller by name.
func (q *Queries) ListCallers(ctx context.Context, db DB) ([]storage.Caller, error) {
	return queryAll(ctx, db, q.scanCaller, q.listCallers)
}

// DeleteCaller deletes a caller; its API keys go with it (ON DELETE
// CASCADE). storage.ErrNotFound when there is none.
func (q *Queries) DeleteCaller(ctx context.Context, db DB, id string) error {
	n, err := db.Exec(ctx, q.deleteCaller, id)
	if err == nil && n == 0 {
		err = storage.ErrNotFound
	}
	return err
}

// AddAPIKey adds key to its caller and, unless graceEnd is zero, makes the
// caller's other keys expire at graceEnd unless they expire earlier. It
// first reads the caller row with the flavor's ForUpdate, so that
// concurrent key changes of one caller run one after the other;
// storage.ErrNotFound when there is no such caller.
func (q *Queries) AddAPIKey(ctx context.Context, db DB, key storage.APIKey, graceEnd time.Time) error {
	var one int
	if err := db.QueryRow(ctx, q.lockCaller, key.CallerID).Scan(&one); err != nil {
		return notFound(err)
	}
	if !graceEnd.IsZero() {
		end := Nanos(graceEnd)
		if _, err := db.Exec(ctx, q.expireAPIKeys, end, key.CallerID, end); err != nil {
			return err
		}
	}
	return q.insertKeyOf(ctx, db, key.CallerID, key)
}

// ListAPIKeys returns every API key, by caller and then age.
func (q *Queries) ListAPIKeys(ctx context.Context, db DB) ([]storage.APIKey, error) {
	return queryAll(ctx, db, scanAPIKey, q.listAPIKeys)
}
