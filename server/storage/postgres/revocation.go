package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/server/storage"
)

// AddRevocations stores rs in one transaction (one round trip); an entry
// replaces a stored one with the same app, kind and value only if it
// expires later.
func (s *Store) AddRevocations(ctx context.Context, rs []storage.Revocation) error {
	if len(rs) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, r := range rs {
			query, args := queries.AddRevocation(r)
			b.Queue(query, args...)
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return s.wrap(err, "add %d revocations", len(rs))
	}
	return nil
}

// ListRevocations returns the entries that expire after now.
func (s *Store) ListRevocations(ctx context.Context, now time.Time) ([]storage.Revocation, error) {
	rs, err := queries.ListRevocations(ctx, s.db, now)
	if err != nil {
		return nil, s.wrap(err, "list revocations")
	}
	return rs, nil
}

// SweepRevocations deletes the entries that expired before now. One
// statement: no transaction of its own.
func (s *Store) SweepRevocations(ctx context.Context, now time.Time) (int, error) {
	n, err := queries.SweepRevocations(ctx, s.db, now)
	if err != nil {
		return 0, s.wrap(err, "sweep revocations")
	}
	return n, nil
}
