package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/server/storage"
)

const revocationColumns = `app_id, kind, value, revoked_at, expires_at, reason`

func scanRevocation(row pgx.Row) (storage.Revocation, error) {
	var r storage.Revocation
	var kind string
	err := row.Scan(&r.AppID, &kind, &r.Value, timeCol{&r.RevokedAt}, timeCol{&r.ExpiresAt}, &r.Reason)
	r.Kind = storage.RevocationKind(kind)
	return r, err
}

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
			b.Queue(`INSERT INTO revocations (`+revocationColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (app_id, kind, value) DO UPDATE SET revoked_at = excluded.revoked_at,
				expires_at = excluded.expires_at, reason = excluded.reason
				WHERE excluded.expires_at > revocations.expires_at`,
				r.AppID, string(r.Kind), r.Value, nanos(r.RevokedAt), nanos(r.ExpiresAt), r.Reason)
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
	rs, err := queryAll(ctx, s.pool, scanRevocation, `SELECT `+revocationColumns+` FROM revocations
		WHERE expires_at > $1 ORDER BY app_id, kind, value`, nanos(now))
	if err != nil {
		return nil, s.wrap(err, "list revocations")
	}
	return rs, nil
}

// SweepRevocations deletes the entries that expired before now.
func (s *Store) SweepRevocations(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM revocations WHERE expires_at < $1`, nanos(now))
	if err != nil {
		return 0, s.wrap(err, "sweep revocations")
	}
	return int(tag.RowsAffected()), nil
}
