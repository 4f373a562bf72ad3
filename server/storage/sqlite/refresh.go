package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tokend/tokend/server/storage"
)

const refreshColumns = `hash, family_id, app_id, subject, audience, claims, access_token_id,
	access_token_expires_at, created_at, expires_at, family_expires_at, used_at, idempotency_key,
	replay, revoked_at`

func scanRefresh(sc scanner) (storage.RefreshToken, error) {
	var t storage.RefreshToken
	err := sc.Scan(&t.Hash, &t.FamilyID, &t.AppID, &t.Subject, listCol{&t.Audience}, &t.Claims, &t.AccessTokenID,
		timeCol{&t.AccessTokenExpiresAt}, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.FamilyExpiresAt},
		timeCol{&t.UsedAt}, &t.IdempotencyKey, &t.Replay, timeCol{&t.RevokedAt})
	return t, err
}

func insertRefresh(ctx context.Context, tx *wtx, t storage.RefreshToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (`+refreshColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Hash, t.FamilyID, t.AppID, t.Subject, jsonList(t.Audience), blob(t.Claims), t.AccessTokenID,
		nanos(t.AccessTokenExpiresAt), nanos(t.CreatedAt), nanos(t.ExpiresAt), nanos(t.FamilyExpiresAt),
		nanos(t.UsedAt), t.IdempotencyKey, blob(t.Replay), nanos(t.RevokedAt))
	return err
}

func getRefresh(ctx context.Context, q querier, hash string) (storage.RefreshToken, error) {
	t, err := scanRefresh(q.QueryRowContext(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.RefreshToken{}, storage.ErrNotFound
	}
	return t, err
}

// CreateRefreshToken stores the first token of a new family.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		return insertRefresh(ctx, tx, t)
	})
	if err != nil {
		return s.wrap(err, "create refresh token of family %q", t.FamilyID)
	}
	return nil
}

// GetRefreshToken returns the token with the given hash.
func (s *Store) GetRefreshToken(ctx context.Context, hash string) (storage.RefreshToken, error) {
	t, err := getRefresh(ctx, s.r, hash)
	if err != nil {
		// The hash is not logged: it identifies a live credential.
		return storage.RefreshToken{}, s.wrap(err, "get refresh token")
	}
	return t, nil
}

// RotateRefreshToken marks oldHash used and stores next, if oldHash is
// neither used nor revoked. It returns the old token as it is afterwards.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, usedAt time.Time, idempotencyKey string, replay []byte, next storage.RefreshToken) (storage.RefreshToken, error) {
	var old storage.RefreshToken
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		// One statement marks the token used if it still may be, and
		// returns it; only when it may not is it read again to say why.
		var err error
		old, err = scanRefresh(tx.QueryRowContext(ctx, `UPDATE refresh_tokens SET used_at = ?, idempotency_key = ?, replay = ?
			WHERE hash = ? AND used_at = 0 AND revoked_at = 0 RETURNING `+refreshColumns,
			nanos(usedAt), idempotencyKey, blob(replay), oldHash))
		if errors.Is(err, sql.ErrNoRows) {
			if old, err = getRefresh(ctx, tx, oldHash); err != nil {
				return err
			}
			switch {
			case !old.RevokedAt.IsZero():
				return storage.ErrConflict
			case !old.UsedAt.IsZero():
				return storage.ErrRefreshUsed
			}
			return fmt.Errorf("refresh token neither used nor revoked was not updated: %w", storage.ErrConflict)
		}
		if err != nil {
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
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		ts, err = queryAll(ctx, tx, scanRefresh, `SELECT `+refreshColumns+` FROM refresh_tokens
			WHERE family_id = ? ORDER BY created_at, hash`, familyID)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at = 0`,
			nanos(at), familyID)
		return err
	})
	if err != nil {
		return nil, s.wrap(err, "revoke refresh family %q", familyID)
	}
	return ts, nil
}

// RevokeSubjectFamilies revokes every family of a subject in an app and
// returns the tokens that were not revoked yet, as they were before.
func (s *Store) RevokeSubjectFamilies(ctx context.Context, appID, subject string, at time.Time) ([]storage.RefreshToken, error) {
	var ts []storage.RefreshToken
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		ts, err = queryAll(ctx, tx, scanRefresh, `SELECT `+refreshColumns+` FROM refresh_tokens
			WHERE app_id = ? AND subject = ? AND revoked_at = 0 ORDER BY family_id, created_at, hash`, appID, subject)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ?
			WHERE app_id = ? AND subject = ? AND revoked_at = 0`, nanos(at), appID, subject)
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
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		t := nanos(now)
		res, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens
			WHERE expires_at < ? AND (family_expires_at < ? OR revoked_at <> 0)`, t, t)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.wrap(err, "sweep refresh tokens")
	}
	return int(n), nil
}
