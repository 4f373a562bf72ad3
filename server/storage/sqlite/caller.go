package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tokend/tokend/server/storage"
)

const callerColumns = `id, name, roles, app_ids, mtls_identity, created_at`

func scanCaller(sc scanner) (storage.Caller, error) {
	var c storage.Caller
	err := sc.Scan(&c.ID, &c.Name, listCol{&c.Roles}, listCol{&c.AppIDs}, &c.MTLSIdentity, timeCol{&c.CreatedAt})
	return c, err
}

const apiKeyColumns = `hash, caller_id, created_at, expires_at`

func scanAPIKey(sc scanner) (storage.APIKey, error) {
	var k storage.APIKey
	err := sc.Scan(&k.Hash, &k.CallerID, timeCol{&k.CreatedAt}, timeCol{&k.ExpiresAt})
	return k, err
}

// CreateCaller stores a new caller and, when key.Hash is set, its API key.
func (s *Store) CreateCaller(ctx context.Context, c storage.Caller, key storage.APIKey) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO callers (`+callerColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, jsonList(c.Roles), jsonList(c.AppIDs), c.MTLSIdentity, nanos(c.CreatedAt)); err != nil {
			return err
		}
		if key.Hash == "" {
			return nil
		}
		return insertAPIKey(ctx, tx, c.ID, key)
	})
	if err != nil {
		return s.wrap(err, "create caller %q", c.ID)
	}
	return nil
}

// PutCaller creates or replaces the caller c.ID and, when key.Hash is set,
// replaces its API keys with key.
func (s *Store) PutCaller(ctx context.Context, c storage.Caller, key storage.APIKey) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		// An upsert, not INSERT OR REPLACE: deleting the row would cascade to
		// the caller's API keys.
		if _, err := tx.ExecContext(ctx, `INSERT INTO callers (`+callerColumns+`) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, roles = excluded.roles,
			app_ids = excluded.app_ids, mtls_identity = excluded.mtls_identity, created_at = excluded.created_at`,
			c.ID, c.Name, jsonList(c.Roles), jsonList(c.AppIDs), c.MTLSIdentity, nanos(c.CreatedAt)); err != nil {
			return err
		}
		if key.Hash == "" {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE caller_id = ?`, c.ID); err != nil {
			return err
		}
		return insertAPIKey(ctx, tx, c.ID, key)
	})
	if err != nil {
		return s.wrap(err, "put caller %q", c.ID)
	}
	return nil
}

// insertAPIKey stores key as a key of callerID.
func insertAPIKey(ctx context.Context, tx *wtx, callerID string, key storage.APIKey) error {
	if key.CallerID == "" {
		key.CallerID = callerID
	}
	if key.CallerID != callerID {
		return fmt.Errorf("api key names caller %q", key.CallerID)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES (?, ?, ?, ?)`,
		key.Hash, key.CallerID, nanos(key.CreatedAt), nanos(key.ExpiresAt))
	return err
}

// GetCaller returns the caller with the given id.
func (s *Store) GetCaller(ctx context.Context, id string) (storage.Caller, error) {
	c, err := scanCaller(s.r.QueryRowContext(ctx, `SELECT `+callerColumns+` FROM callers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return storage.Caller{}, s.wrap(err, "get caller %q", id)
	}
	return c, nil
}

// ListCallers returns every caller by name.
func (s *Store) ListCallers(ctx context.Context) ([]storage.Caller, error) {
	cs, err := queryAll(ctx, s.r, scanCaller, `SELECT `+callerColumns+` FROM callers ORDER BY name`)
	if err != nil {
		return nil, s.wrap(err, "list callers")
	}
	return cs, nil
}

// DeleteCaller deletes a caller; its API keys go with it (ON DELETE CASCADE).
func (s *Store) DeleteCaller(ctx context.Context, id string) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM callers WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return storage.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return s.wrap(err, "delete caller %q", id)
	}
	return nil
}

// AddAPIKey adds key to its caller and, unless graceEnd is zero, makes the
// caller's other keys expire at graceEnd unless they expire earlier.
func (s *Store) AddAPIKey(ctx context.Context, key storage.APIKey, graceEnd time.Time) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM callers WHERE id = ?`, key.CallerID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !graceEnd.IsZero() {
			end := nanos(graceEnd)
			if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET expires_at = ?
				WHERE caller_id = ? AND (expires_at = 0 OR expires_at > ?)`, end, key.CallerID, end); err != nil {
				return err
			}
		}
		return insertAPIKey(ctx, tx, key.CallerID, key)
	})
	if err != nil {
		return s.wrap(err, "add api key to caller %q", key.CallerID)
	}
	return nil
}

// ListAPIKeys returns every API key, by caller and then age.
func (s *Store) ListAPIKeys(ctx context.Context) ([]storage.APIKey, error) {
	keys, err := queryAll(ctx, s.r, scanAPIKey, `SELECT `+apiKeyColumns+` FROM api_keys
		ORDER BY caller_id, created_at, hash`)
	if err != nil {
		return nil, s.wrap(err, "list api keys")
	}
	return keys, nil
}
