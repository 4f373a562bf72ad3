package sqlite

import (
	"context"
	"time"

	"github.com/tokend/tokend/server/storage"
)

// AddRevocations stores rs in one transaction; an entry replaces a stored
// one with the same app, kind and value only if it expires later.
func (s *Store) AddRevocations(ctx context.Context, rs []storage.Revocation) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		for _, r := range rs {
			query, args := queries.AddRevocation(r)
			if _, err := tx.Exec(ctx, query, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.wrap(err, "add %d revocations", len(rs))
	}
	return nil
}

// ListRevocations returns the entries that expire after now.
func (s *Store) ListRevocations(ctx context.Context, now time.Time) ([]storage.Revocation, error) {
	rs, err := queries.ListRevocations(ctx, s.r, now)
	if err != nil {
		return nil, s.wrap(err, "list revocations")
	}
	return rs, nil
}

// SweepRevocations deletes the entries that expired before now.
func (s *Store) SweepRevocations(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.write(ctx, func(ctx context.Context, tx *wtx) (err error) {
		n, err = queries.SweepRevocations(ctx, tx, now)
		return err
	})
	if err != nil {
		return 0, s.wrap(err, "sweep revocations")
	}
	return n, nil
}
