package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/server/storage"
)

const callerColumns = `id, name, roles, app_ids, mtls_identity, created_at`

func scanCaller(row pgx.Row) (storage.Caller, error) {
	var c storage.Caller
	err := row.Scan(&c.ID, &c.Name, &c.Roles, &c.AppIDs, &c.MTLSIdentity, timeCol{&c.CreatedAt})
	c.Roles, c.AppIDs = nilIfEmpty(c.Roles), nilIfEmpty(c.AppIDs)
	return c, err
}

const apiKeyColumns = `hash, caller_id, created_at, expires_at`

func scanAPIKey(row pgx.Row) (storage.APIKey, error) {
	var k storage.APIKey
	err := row.Scan(&k.Hash, &k.CallerID, timeCol{&k.CreatedAt}, timeCol{&k.ExpiresAt})
	return k, err
}

// CreateCaller stores a new caller and, when key.Hash is set, its API key.
func (s *Store) CreateCaller(ctx context.Context, c storage.Caller, key storage.APIKey) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO callers (`+callerColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			c.ID, c.Name, list(c.Roles), list(c.AppIDs), c.MTLSIdentity, nanos(c.CreatedAt)); err != nil {
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
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// An upsert, not a delete and insert: deleting the row would
		// cascade to the caller's API keys. It locks the row, too.
		if _, err := tx.Exec(ctx, `INSERT INTO callers (`+callerColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, roles = excluded.roles,
			app_ids = excluded.app_ids, mtls_identity = excluded.mtls_identity, created_at = excluded.created_at`,
			c.ID, c.Name, list(c.Roles), list(c.AppIDs), c.MTLSIdentity, nanos(c.CreatedAt)); err != nil {
			return err
		}
		if key.Hash == "" {
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE caller_id = $1`, c.ID); err != nil {
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
func insertAPIKey(ctx context.Context, tx pgx.Tx, callerID string, key storage.APIKey) error {
	if key.CallerID == "" {
		key.CallerID = callerID
	}
	if key.CallerID != callerID {
		return fmt.Errorf("api key names caller %q", key.CallerID)
	}
	_, err := tx.Exec(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES ($1, $2, $3, $4)`,
		key.Hash, key.CallerID, nanos(key.CreatedAt), nanos(key.ExpiresAt))
	return err
}

// GetCaller returns the caller with the given id.
func (s *Store) GetCaller(ctx context.Context, id string) (storage.Caller, error) {
	c, err := scanCaller(s.pool.QueryRow(ctx, `SELECT `+callerColumns+` FROM callers WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return storage.Caller{}, s.wrap(err, "get caller %q", id)
	}
	return c, nil
}

// ListCallers returns every caller by name.
func (s *Store) ListCallers(ctx context.Context) ([]storage.Caller, error) {
	cs, err := queryAll(ctx, s.pool, scanCaller, `SELECT `+callerColumns+` FROM callers ORDER BY name`)
	if err != nil {
		return nil, s.wrap(err, "list callers")
	}
	return cs, nil
}

// DeleteCaller deletes a caller; its API keys go with it (ON DELETE CASCADE).
func (s *Store) DeleteCaller(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM callers WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = storage.ErrNotFound
	}
	if err != nil {
		return s.wrap(err, "delete caller %q", id)
	}
	return nil
}

// AddAPIKey adds key to its caller and, unless graceEnd is zero, makes the
// caller's other keys expire at graceEnd unless they expire earlier. The
// caller row is locked first, so concurrent key changes of one caller run
// one after the other.
func (s *Store) AddAPIKey(ctx context.Context, key storage.APIKey, graceEnd time.Time) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM callers WHERE id = $1 FOR UPDATE`, key.CallerID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !graceEnd.IsZero() {
			end := nanos(graceEnd)
			if _, err := tx.Exec(ctx, `UPDATE api_keys SET expires_at = $1
				WHERE caller_id = $2 AND (expires_at = 0 OR expires_at > $1)`, end, key.CallerID); err != nil {
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
	keys, err := queryAll(ctx, s.pool, scanAPIKey, `SELECT `+apiKeyColumns+` FROM api_keys
		ORDER BY caller_id, created_at, hash`)
	if err != nil {
		return nil, s.wrap(err, "list api keys")
	}
	return keys, nil
}
