package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/server/storage"
)

// CreateCaller stores a new caller and, when key.Hash is set, its API key.
func (s *Store) CreateCaller(ctx context.Context, c storage.Caller, key storage.APIKey) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		return queries.CreateCaller(ctx, conn{tx}, c, key)
	})
	if err != nil {
		return s.wrap(err, "create caller %q", c.ID)
	}
	return nil
}

// PutCaller creates or replaces the caller c.ID and, when key.Hash is set,
// replaces its API keys with key. Its upsert locks the caller row.
func (s *Store) PutCaller(ctx context.Context, c storage.Caller, key storage.APIKey) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		return queries.PutCaller(ctx, conn{tx}, c, key)
	})
	if err != nil {
		return s.wrap(err, "put caller %q", c.ID)
	}
	return nil
}

// GetCaller returns the caller with the given id.
func (s *Store) GetCaller(ctx context.Context, id string) (storage.Caller, error) {
	c, err := queries.GetCaller(ctx, s.db, id)
	if err != nil {
		return storage.Caller{}, s.wrap(err, "get caller %q", id)
	}
	return c, nil
}

// ListCallers returns every caller by name.
func (s *Store) ListCallers(ctx context.Context) ([]storage.Caller, error) {
	cs, err := queries.ListCallers(ctx, s.db)
	if err != nil {
		return nil, s.wrap(err, "list callers")
	}
	return cs, nil
}

// DeleteCaller deletes a caller; its API keys go with it (ON DELETE CASCADE).
// One statement: no transaction of its own.
func (s *Store) DeleteCaller(ctx context.Context, id string) error {
	if err := queries.DeleteCaller(ctx, s.db, id); err != nil {
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
		return queries.AddAPIKey(ctx, conn{tx}, key, graceEnd)
	})
	if err != nil {
		return s.wrap(err, "add api key to caller %q", key.CallerID)
	}
	return nil
}

// ListAPIKeys returns every API key, by caller and then age.
func (s *Store) ListAPIKeys(ctx context.Context) ([]storage.APIKey, error) {
	keys, err := queries.ListAPIKeys(ctx, s.db)
	if err != nil {
		return nil, s.wrap(err, "list api keys")
	}
	return keys, nil
}
