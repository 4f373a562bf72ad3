package postgres

import (
	"context"
	"errors"
	"hash/fnv"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/sqlstore"
)

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
		return queries.InsertRefreshToken(ctx, conn{tx}, t)
	})
	if err != nil {
		return s.wrap(err, "create refresh token of family %q", t.FamilyID)
	}
	return nil
}

// GetRefreshToken returns the token with the given hash.
func (s *Store) GetRefreshToken(ctx context.Context, hash string) (storage.RefreshToken, error) {
	t, err := queries.GetRefreshToken(ctx, s.db, hash)
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
		if old, err = queries.GetRefreshTokenForUpdate(ctx, conn{tx}, oldHash); err != nil {
			return err
		}
		if err := sqlstore.RotationRefused(old); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $1, idempotency_key = $2, replay = $3
			WHERE hash = $4`, sqlstore.Nanos(usedAt), idempotencyKey, sqlstore.Blob(replay), oldHash); err != nil {
			return err
		}
		if err := queries.InsertRefreshToken(ctx, conn{tx}, next); err != nil {
			return err
		}
		old.UsedAt, old.IdempotencyKey, old.Replay = usedAt, idempotencyKey, replay
		return nil
	})
	return sqlstore.RotationOutcome(old, err, s.wrap)
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
		ts, err = queries.RevokeFamily(ctx, conn{tx}, familyID, at)
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
		ts, err = queries.QueryRefresh(ctx, conn{tx}, `SELECT `+sqlstore.RefreshColumns+` FROM refresh_tokens `+where+`
			ORDER BY family_id, created_at, hash FOR UPDATE`, appID, subject, families)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $4 `+where, appID, subject, families, sqlstore.Nanos(at))
		return err
	})
	if err != nil {
		return nil, s.wrap(err, "revoke refresh families of subject in app %q", appID)
	}
	return ts, nil
}

// SweepRefreshTokens deletes the tokens that can no longer be used nor
// teach anything: those past both their idle and their family expiry, and
// those of revoked families past their idle expiry. One statement: no
// transaction of its own.
func (s *Store) SweepRefreshTokens(ctx context.Context, now time.Time) (int, error) {
	n, err := queries.SweepRefreshTokens(ctx, s.db, now)
	if err != nil {
		return 0, s.wrap(err, "sweep refresh tokens")
	}
	return n, nil
}
