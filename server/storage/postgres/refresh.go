package postgres

import (
	"context"
	"errors"
	"hash/fnv"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/server/storage"
)

const refreshColumns = `hash, family_id, app_id, subject, audience, claims, access_token_id,
	access_token_expires_at, created_at, expires_at, family_expires_at, used_at, idempotency_key,
	replay, revoked_at`

func scanRefresh(row pgx.Row) (storage.RefreshToken, error) {
	var t storage.RefreshToken
	err := row.Scan(&t.Hash, &t.FamilyID, &t.AppID, &t.Subject, &t.Audience, &t.Claims, &t.AccessTokenID,
		timeCol{&t.AccessTokenExpiresAt}, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.FamilyExpiresAt},
		timeCol{&t.UsedAt}, &t.IdempotencyKey, &t.Replay, timeCol{&t.RevokedAt})
	t.Audience = nilIfEmpty(t.Audience)
	return t, err
}

func insertRefresh(ctx context.Context, tx pgx.Tx, t storage.RefreshToken) error {
	_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (`+refreshColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		t.Hash, t.FamilyID, t.AppID, t.Subject, list(t.Audience), blob(t.Claims), t.AccessTokenID,
		nanos(t.AccessTokenExpiresAt), nanos(t.CreatedAt), nanos(t.ExpiresAt), nanos(t.FamilyExpiresAt),
		nanos(t.UsedAt), t.IdempotencyKey, blob(t.Replay), nanos(t.RevokedAt))
	return err
}

// getRefresh reads one token; lock is "" or a locking clause.
func getRefresh(ctx context.Context, q querier, hash, lock string) (storage.RefreshToken, error) {
	t, err := scanRefresh(q.QueryRow(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = $1 `+lock, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.RefreshToken{}, storage.ErrNotFound
	}
	return t, err
}

// lockFamilies takes a transaction advisory lock for each refresh family,
// in a fixed order (so that two transactions locking several families
// cannot deadlock). Rotations and revocations of a family hold it: without
// it, a revocation's UPDATE, which sees the rows committed when it started,
// could miss the token that a concurrent rotation adds to the family.
//
// The lock key is a 64-bit FNV-1a hash of the family id in the one-key
// advisory lock space; two families sharing a key only wait for each other.
func lockFamilies(ctx context.Context, tx pgx.Tx, familyIDs ...string) error {
	keys := make([]int64, 0, len(familyIDs))
	for _, id := range familyIDs {
		h := fnv.New64a()
		h.Write([]byte(id))
		keys = append(keys, int64(h.Sum64()))
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, k); err != nil {
			return err
		}
	}
	return nil
}

// CreateRefreshToken stores the first token of a new family.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		return insertRefresh(ctx, tx, t)
	})
	if err != nil {
		return s.wrap(err, "create refresh token of family %q", t.FamilyID)
	}
	return nil
}

// GetRefreshToken returns the token with the given hash.
func (s *Store) GetRefreshToken(ctx context.Context, hash string) (storage.RefreshToken, error) {
	t, err := getRefresh(ctx, s.pool, hash, "")
	if err != nil {
		// The hash is not logged: it identifies a live credential.
		return storage.RefreshToken{}, s.wrap(err, "get refresh token")
	}
	return t, nil
}

// RotateRefreshToken marks oldHash used and stores next, if oldHash is
// neither used nor revoked. It returns the old token as it is afterwards.
//
// The old row is read FOR UPDATE: of concurrent rotations, from any
// connection or replica, one locks it first and the others wait, then read
// the row as the winner left it (used) and fail with ErrRefreshUsed.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, usedAt time.Time, idempotencyKey string, replay []byte, next storage.RefreshToken) (storage.RefreshToken, error) {
	var old storage.RefreshToken
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// The family first (a token's family never changes), then the row:
		// the order RevokeFamily takes them in.
		var family string
		err := tx.QueryRow(ctx, `SELECT family_id FROM refresh_tokens WHERE hash = $1`, oldHash).Scan(&family)
		if errors.Is(err, pgx.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := lockFamilies(ctx, tx, family); err != nil {
			return err
		}
		if old, err = getRefresh(ctx, tx, oldHash, "FOR UPDATE"); err != nil {
			return err
		}
		switch {
		case !old.RevokedAt.IsZero():
			return storage.ErrConflict
		case !old.UsedAt.IsZero():
			return storage.ErrRefreshUsed
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $1, idempotency_key = $2, replay = $3
			WHERE hash = $4`, nanos(usedAt), idempotencyKey, blob(replay), oldHash); err != nil {
			return err
		}
		if err := insertRefresh(ctx, tx, next); err != nil {
			return err
		}
		old.UsedAt, old.IdempotencyKey, old.Replay = usedAt, idempotencyKey, replay
		return nil
	})
	switch {
	case errors.Is(err, storage.ErrRefreshUsed), errors.Is(err, storage.ErrConflict):
		return old, s.wrap(err, "rotate refresh token of family %q", old.FamilyID)
	case err != nil:
		return storage.RefreshToken{}, s.wrap(err, "rotate refresh token")
	}
	return old, nil
}

// RevokeFamily marks every token of a family revoked at `at`, unless it
// already is, and returns the tokens as they were before.
func (s *Store) RevokeFamily(ctx context.Context, familyID string, at time.Time) ([]storage.RefreshToken, error) {
	var ts []storage.RefreshToken
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockFamilies(ctx, tx, familyID); err != nil {
			return err
		}
		var err error
		ts, err = queryAll(ctx, tx, scanRefresh, `SELECT `+refreshColumns+` FROM refresh_tokens
			WHERE family_id = $1 ORDER BY created_at, hash FOR UPDATE`, familyID)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at = 0`,
			nanos(at), familyID)
		return err
	})
	if err != nil {
		return nil, s.wrap(err, "revoke refresh family %q", familyID)
	}
	return ts, nil
}

// RevokeSubjectFamilies revokes every family of a subject in an app and
// returns the tokens that were not revoked yet, as they were before. A
// family created while it runs may be left alone: it counts as created
// after the revocation.
func (s *Store) RevokeSubjectFamilies(ctx context.Context, appID, subject string, at time.Time) ([]storage.RefreshToken, error) {
	var ts []storage.RefreshToken
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT DISTINCT family_id FROM refresh_tokens
			WHERE app_id = $1 AND subject = $2 AND revoked_at = 0`, appID, subject)
		if err != nil {
			return err
		}
		families, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(families) == 0 {
			return nil
		}
		if err := lockFamilies(ctx, tx, families...); err != nil {
			return err
		}
		const where = `WHERE app_id = $1 AND subject = $2 AND revoked_at = 0 AND family_id = ANY($3)`
		ts, err = queryAll(ctx, tx, scanRefresh, `SELECT `+refreshColumns+` FROM refresh_tokens `+where+`
			ORDER BY family_id, created_at, hash FOR UPDATE`, appID, subject, families)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $4 `+where, appID, subject, families, nanos(at))
		return err
	})
	if err != nil {
		return nil, s.wrap(err, "revoke refresh families of subject in app %q", appID)
	}
	return ts, nil
}

// SweepRefreshTokens deletes the tokens that can no longer be used nor
// teach anything: those past both their idle and their family expiry, and
// those of revoked families past their idle expiry.
func (s *Store) SweepRefreshTokens(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM refresh_tokens
		WHERE expires_at < $1 AND (family_expires_at < $1 OR revoked_at <> 0)`, nanos(now))
	if err != nil {
		return 0, s.wrap(err, "sweep refresh tokens")
	}
	return int(tag.RowsAffected()), nil
}
