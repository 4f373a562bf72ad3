package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/sqlstore"
)

// CreateRefreshToken stores the first token of a new family.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		return queries.InsertRefreshToken(ctx, tx, t)
	})
	if err != nil {
		return s.wrap(err, "create refresh token of family %q", t.FamilyID)
	}
	return nil
}

// GetRefreshToken returns the token with the given hash.
func (s *Store) GetRefreshToken(ctx context.Context, hash string) (storage.RefreshToken, error) {
	t, err := queries.GetRefreshToken(ctx, s.r, hash)
	if err != nil {
		// The hash is not logged: it identifies a live credential.
		return storage.RefreshToken{}, s.wrap(err, "get refresh token")
	}
	return t, nil
}

// rotateRefresh marks a token used if it still may be, and returns it.
const rotateRefresh = `UPDATE refresh_tokens SET used_at = ?, idempotency_key = ?, replay = ?
	WHERE hash = ? AND used_at = 0 AND revoked_at = 0 RETURNING ` + sqlstore.RefreshColumns

// RotateRefreshToken marks oldHash used and stores next, if oldHash is
// neither used nor revoked. It returns the old token as it is afterwards.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, usedAt time.Time, idempotencyKey string, replay []byte, next storage.RefreshToken) (storage.RefreshToken, error) {
	var old storage.RefreshToken
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		// One statement marks the token used if it still may be, and
		// returns it; only when it may not is it read again to say why.
		var err error
		old, err = queries.ScanRefresh(tx.QueryRow(ctx, rotateRefresh,
			sqlstore.Nanos(usedAt), idempotencyKey, sqlstore.Blob(replay), oldHash))
		if errors.Is(err, sql.ErrNoRows) {
			if old, err = queries.GetRefreshToken(ctx, tx, oldHash); err != nil {
				return err
			}
			if err := sqlstore.RotationRefused(old); err != nil {
				return err
			}
			return fmt.Errorf("refresh token neither used nor revoked was not updated: %w", storage.ErrConflict)
		}
		if err != nil {
			return err
		}
		if err := queries.InsertRefreshToken(ctx, tx, next); err != nil {
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
	err := s.write(ctx, func(ctx context.Context, tx *wtx) (err error) {
		ts, err = queries.RevokeFamily(ctx, tx, familyID, at)
		return err
	})
	if err != nil {
		return nil, s.wrap(err, "revoke refresh family %q", familyID)
	}
	return ts, nil
}

// RevokeSubjectFamilies revokes every family of a subject in an app and
// returns the tokens that were not revoked yet, as they were before. The
// write transaction holds the database: no token can join a family
// between the read and the update.
func (s *Store) RevokeSubjectFamilies(ctx context.Context, appID, subject string, at time.Time) ([]storage.RefreshToken, error) {
	var ts []storage.RefreshToken
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		ts, err = queries.QueryRefresh(ctx, tx, `SELECT `+sqlstore.RefreshColumns+` FROM refresh_tokens
			WHERE app_id = ? AND subject = ? AND revoked_at = 0 ORDER BY family_id, created_at, hash`, appID, subject)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = ?
			WHERE app_id = ? AND subject = ? AND revoked_at = 0`, sqlstore.Nanos(at), appID, subject)
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
	var n int
	err := s.write(ctx, func(ctx context.Context, tx *wtx) (err error) {
		n, err = queries.SweepRefreshTokens(ctx, tx, now)
		return err
	})
	if err != nil {
		return 0, s.wrap(err, "sweep refresh tokens")
	}
	return n, nil
}
