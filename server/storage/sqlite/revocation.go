package sqlite

import (
	"context"
	"time"

	"github.com/tokend/tokend/server/storage"
)

const revocationColumns = `app_id, kind, value, revoked_at, expires_at, reason`

func scanRevocation(sc scanner) (storage.Revocation, error) {
	var r storage.Revocation
	err := sc.Scan(&r.AppID, &r.Kind, &r.Value, timeCol{&r.RevokedAt}, timeCol{&r.ExpiresAt}, &r.Reason)
	return r, err
}

// AddRevocations stores rs in one transaction; an entry replaces a stored
// one with the same app, kind and value only if it expires later.
func (s *Store) AddRevocations(ctx context.Context, rs []storage.Revocation) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		for _, r := range rs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO revocations (`+revocationColumns+`) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (app_id, kind, value) DO UPDATE SET revoked_at = excluded.revoked_at,
				expires_at = excluded.expires_at, reason = excluded.reason
				WHERE excluded.expires_at > revocations.expires_at`,
				r.AppID, r.Kind, r.Value, nanos(r.RevokedAt), nanos(r.ExpiresAt), r.Reason); err != nil {
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
	rs, err := queryAll(ctx, s.r, scanRevocation, `SELECT `+revocationColumns+` FROM revocations
		WHERE expires_at > ? ORDER BY app_id, kind, value`, nanos(now))
	if err != nil {
		return nil, s.wrap(err, "list revocations")
	}
	return rs, nil
}

// SweepRevocations deletes the entries that expired before now.
func (s *Store) SweepRevocations(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM revocations WHERE expires_at < ?`, nanos(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.wrap(err, "sweep revocations")
	}
	return int(n), nil
}
