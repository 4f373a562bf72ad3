package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/tokend/tokend/server/storage"
)

// RefreshColumns are the columns of refresh_tokens in the order
// ScanRefresh reads them, for the backends' own queries.
const RefreshColumns = `hash, family_id, app_id, subject, audience, claims, access_token_id,
	access_token_expires_at, created_at, expires_at, family_expires_at, used_at, idempotency_key,
	replay, revoked_at`

const (
	insertRefresh = `INSERT INTO refresh_tokens (` + RefreshColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	getRefresh = `SELECT ` + RefreshColumns + ` FROM refresh_tokens WHERE hash = ?`
	listFamily = `SELECT ` + RefreshColumns + ` FROM refresh_tokens
		WHERE family_id = ? ORDER BY created_at, hash`
	revokeFamily = `UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at = 0`
	sweepRefresh = `DELETE FROM refresh_tokens
		WHERE expires_at < ? AND (family_expires_at < ? OR revoked_at <> 0)`
)

// ScanRefresh reads a row of RefreshColumns.
func (q *Queries) ScanRefresh(row Row) (storage.RefreshToken, error) {
	var t storage.RefreshToken
	err := row.Scan(&t.Hash, &t.FamilyID, &t.AppID, &t.Subject, q.listDest(&t.Audience), &t.Claims, &t.AccessTokenID,
		timeCol{&t.AccessTokenExpiresAt}, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.FamilyExpiresAt},
		timeCol{&t.UsedAt}, &t.IdempotencyKey, &t.Replay, timeCol{&t.RevokedAt})
	t.Audience = nilIfEmpty(t.Audience)
	return t, err
}

// QueryRefresh runs a query of RefreshColumns and reads every row.
func (q *Queries) QueryRefresh(ctx context.Context, db DB, query string, args ...any) ([]storage.RefreshToken, error) {
	return queryAll(ctx, db, q.ScanRefresh, query, args...)
}

// InsertRefreshToken stores t.
func (q *Queries) InsertRefreshToken(ctx context.Context, db DB, t storage.RefreshToken) error {
	_, err := db.Exec(ctx, q.insertRefresh, t.Hash, t.FamilyID, t.AppID, t.Subject, q.list(t.Audience),
		Blob(t.Claims), t.AccessTokenID, Nanos(t.AccessTokenExpiresAt), Nanos(t.CreatedAt), Nanos(t.ExpiresAt),
		Nanos(t.FamilyExpiresAt), Nanos(t.UsedAt), t.IdempotencyKey, Blob(t.Replay), Nanos(t.RevokedAt))
	return err
}

// GetRefreshToken returns the token with the given hash;
// storage.ErrNotFound when there is none.
func (q *Queries) GetRefreshToken(ctx context.Context, db DB, hash string) (storage.RefreshToken, error) {
	t, err := q.ScanRefresh(db.QueryRow(ctx, q.getRefresh, hash))
	return t, notFound(err)
}

// GetRefreshTokenForUpdate is GetRefreshToken with the flavor's ForUpdate,
// in a write transaction.
func (q *Queries) GetRefreshTokenForUpdate(ctx context.Context, db DB, hash string) (storage.RefreshToken, error) {
	t, err := q.ScanRefresh(db.QueryRow(ctx, q.getRefreshForUpdate, hash))
	return t, notFound(err)
}

// RotationRefused says why t may not be rotated: storage.ErrConflict when
// its family is revoked (used or not: no replay hands out tokens of a
// revoked family), storage.ErrRefreshUsed when it was rotated already; nil
// when it may be.
func RotationRefused(t storage.RefreshToken) error {
	switch {
	case !t.RevokedAt.IsZero():
		return storage.ErrConflict
	case !t.UsedAt.IsZero():
		return storage.ErrRefreshUsed
	}
	return nil
}

// RotationOutcome is what RotateRefreshToken returns once its transaction
// ended with err: the old token (as rotated, or as found when the
// rotation was refused: used or revoked), with err wrapped by the
// backend's wrap.
func RotationOutcome(old storage.RefreshToken, err error, wrap func(err error, format string, args ...any) error) (storage.RefreshToken, error) {
	switch {
	case errors.Is(err, storage.ErrRefreshUsed), errors.Is(err, storage.ErrConflict):
		return old, wrap(err, "rotate refresh token of family %q", old.FamilyID)
	case err != nil:
		return storage.RefreshToken{}, wrap(err, "rotate refresh token")
	}
	return old, nil
}

// RevokeFamily marks every token of a family revoked at `at`, unless it
// already is, and returns the tokens as they were before. It reads them
// with the flavor's ForUpdate; a backend with row locks takes its family
// lock first.
func (q *Queries) RevokeFamily(ctx context.Context, db DB, familyID string, at time.Time) ([]storage.RefreshToken, error) {
	ts, err := q.QueryRefresh(ctx, db, q.listFamily, familyID)
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(ctx, q.revokeFamily, Nanos(at), familyID); err != nil {
		return nil, err
	}
	return ts, nil
}

// SweepRefreshTokens deletes the tokens that can no longer be used nor
// teach anything: those past both their idle and their family expiry, and
// those of revoked families past their idle expiry. It returns how many
// it deleted.
func (q *Queries) SweepRefreshTokens(ctx context.Context, db DB, now time.Time) (int, error) {
	t := Nanos(now)
	n, err := db.Exec(ctx, q.sweepRefresh, t, t)
	return int(n), err
}
