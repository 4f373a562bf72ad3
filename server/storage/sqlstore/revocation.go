package sqlstore

import (
	"context"
	"time"

	"github.com/tokend/tokend/server/storage"
)

const revocationColumns = `app_id, kind, value, revoked_at, expires_at, reason`

const (
	upsertRevocation = `INSERT INTO revocations (` + revocationColumns + `) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_id, kind, value) DO UPDATE SET revoked_at = excluded.revoked_at,
		expires_at = excluded.expires_at, reason = excluded.reason
		WHERE excluded.expires_at > revocations.expires_at`
	listRevocations = `SELECT ` + revocationColumns + ` FROM revocations
		WHERE expires_at > ? ORDER BY app_id, kind, value`
	sweepRevocations = `DELETE FROM revocations WHERE expires_at < ?`
)

func scanRevocation(row Row) (storage.Revocation, error) {
	var r storage.Revocation
	var kind string
	err := row.Scan(&r.AppID, &kind, &r.Value, timeCol{&r.RevokedAt}, timeCol{&r.ExpiresAt}, &r.Reason)
	r.Kind = storage.RevocationKind(kind)
	return r, err
}

// AddRevocation returns the statement that stores r: it replaces a stored
// entry with the same app, kind and value only if r expires later. The
// backend runs it, or queues it in a batch.
func (q *Queries) AddRevocation(r storage.Revocation) (query string, args []any) {
	return q.upsertRevocation, []any{r.AppID, string(r.Kind), r.Value, Nanos(r.RevokedAt), Nanos(r.ExpiresAt), r.Reason}
}

// ListRevocations returns the entries that expire after now.
func (q *Queries) ListRevocations(ctx context.Context, db DB, now time.Time) ([]storage.Revocation, error) {
	return queryAll(ctx, db, scanRevocation, q.listRevocations, Nanos(now))
}

// SweepRevocations deletes the entries that expired before now and
// returns how many it deleted.
func (q *Queries) SweepRevocations(ctx context.Context, db DB, now time.Time) (int, error) {
	n, err := db.Exec(ctx, q.sweepRevocations, Nanos(now))
	return int(n), err
}
