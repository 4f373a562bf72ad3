package faulty

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tokend/tokend/server/storage"
)

// Store wraps a real store. While broken, every operation but Close fails
// with the injected error (wrapping storage.ErrUnavailable by default)
// without reaching the real store; while a delay is set, every operation
// waits that long (or until its context is done) first. It is safe for
// concurrent use.
type Store struct {
	storage.Store

	mu    sync.Mutex
	err   error
	delay time.Duration
	calls map[string]int
}

var _ storage.Store = (*Store)(nil)

// New wraps st, working.
func New(st storage.Store) *Store { return &Store{Store: st, calls: map[string]int{}} }

// Break makes every operation fail with err; nil means the store is
// unreachable (an error wrapping storage.ErrUnavailable).
func (s *Store) Break(err error) {
	if err == nil {
		err = fmt.Errorf("faulty: injected: %w", storage.ErrUnavailable)
	}
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// Repair makes operations reach the real store again.
func (s *Store) Repair() {
	s.mu.Lock()
	s.err = nil
	s.mu.Unlock()
}

// SetDelay makes every operation wait d before it runs (0: no wait).
func (s *Store) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// Calls returns how many times the operation named op (a storage.Store
// method name) was called, whether it failed or not.
func (s *Store) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// enter counts the call, waits the delay and returns the injected error.
func (s *Store) enter(ctx context.Context, op string) error {
	s.mu.Lock()
	s.calls[op]++
	err, delay := s.err, s.delay
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("faulty: %s: %w", op, err)
	}
	return nil
}

// CreateApp fails while the store is broken.
func (s *Store) CreateApp(ctx context.Context, app storage.App, keys []storage.Key) error {
	if err := s.enter(ctx, "CreateApp"); err != nil {
		return err
	}
	return s.Store.CreateApp(ctx, app, keys)
}

// GetApp fails while the store is broken.
func (s *Store) GetApp(ctx context.Context, id string) (storage.App, error) {
	if err := s.enter(ctx, "GetApp"); err != nil {
		var zero storage.App
		return zero, err
	}
	return s.Store.GetApp(ctx, id)
}

// ListApps fails while the store is broken.
func (s *Store) ListApps(ctx context.Context, afterID string, limit int) ([]storage.App, error) {
	if err := s.enter(ctx, "ListApps"); err != nil {
		var zero []storage.App
		return zero, err
	}
	return s.Store.ListApps(ctx, afterID, limit)
}

// UpdateApp fails while the store is broken.
func (s *Store) UpdateApp(ctx context.Context, id string, fn func(storage.App) (storage.App, error)) (storage.App, error) {
	if err := s.enter(ctx, "UpdateApp"); err != nil {
		var zero storage.App
		return zero, err
	}
	return s.Store.UpdateApp(ctx, id, fn)
}

// ListKeys fails while the store is broken.
func (s *Store) ListKeys(ctx context.Context, appID string) ([]storage.Key, error) {
	if err := s.enter(ctx, "ListKeys"); err != nil {
		var zero []storage.Key
		return zero, err
	}
	return s.Store.ListKeys(ctx, appID)
}

// ListAllKeys fails while the store is broken.
func (s *Store) ListAllKeys(ctx context.Context) ([]storage.Key, error) {
	if err := s.enter(ctx, "ListAllKeys"); err != nil {
		var zero []storage.Key
		return zero, err
	}
	return s.Store.ListAllKeys(ctx)
}

// UpdateKeys fails while the store is broken.
func (s *Store) UpdateKeys(ctx context.Context, appID string, fn func([]storage.Key) ([]storage.Key, error)) error {
	if err := s.enter(ctx, "UpdateKeys"); err != nil {
		return err
	}
	return s.Store.UpdateKeys(ctx, appID, fn)
}

// CreateCaller fails while the store is broken.
func (s *Store) CreateCaller(ctx context.Context, c storage.Caller, key storage.APIKey) error {
	if err := s.enter(ctx, "CreateCaller"); err != nil {
		return err
	}
	return s.Store.CreateCaller(ctx, c, key)
}

// PutCaller fails while the store is broken.
func (s *Store) PutCaller(ctx context.Context, c storage.Caller, key storage.APIKey) error {
	if err := s.enter(ctx, "PutCaller"); err != nil {
		return err
	}
	return s.Store.PutCaller(ctx, c, key)
}

// GetCaller fails while the store is broken.
func (s *Store) GetCaller(ctx context.Context, id string) (storage.Caller, error) {
	if err := s.enter(ctx, "GetCaller"); err != nil {
		var zero storage.Caller
		return zero, err
	}
	return s.Store.GetCaller(ctx, id)
}

// ListCallers fails while the store is broken.
func (s *Store) ListCallers(ctx context.Context) ([]storage.Caller, error) {
	if err := s.enter(ctx, "ListCallers"); err != nil {
		var zero []storage.Caller
		return zero, err
	}
	return s.Store.ListCallers(ctx)
}

// DeleteCaller fails while the store is broken.
func (s *Store) DeleteCaller(ctx context.Context, id string) error {
	if err := s.enter(ctx, "DeleteCaller"); err != nil {
		return err
	}
	return s.Store.DeleteCaller(ctx, id)
}

// AddAPIKey fails while the store is broken.
func (s *Store) AddAPIKey(ctx context.Context, key storage.APIKey, graceEnd time.Time) error {
	if err := s.enter(ctx, "AddAPIKey"); err != nil {
		return err
	}
	return s.Store.AddAPIKey(ctx, key, graceEnd)
}

// ListAPIKeys fails while the store is broken.
func (s *Store) ListAPIKeys(ctx context.Context) ([]storage.APIKey, error) {
	if err := s.enter(ctx, "ListAPIKeys"); err != nil {
		var zero []storage.APIKey
		return zero, err
	}
	return s.Store.ListAPIKeys(ctx)
}

// CreateRefreshToken fails while the store is broken.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	if err := s.enter(ctx, "CreateRefreshToken"); err != nil {
		return err
	}
	return s.Store.CreateRefreshToken(ctx, t)
}

// GetRefreshToken fails while the store is broken.
func (s *Store) GetRefreshToken(ctx context.Context, hash string) (storage.RefreshToken, error) {
	if err := s.enter(ctx, "GetRefreshToken"); err != nil {
		var zero storage.RefreshToken
		return zero, err
	}
	return s.Store.GetRefreshToken(ctx, hash)
}

// RotateRefreshToken fails while the store is broken.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, usedAt time.Time, idempotencyKey string, replay []byte, next storage.RefreshToken) (storage.RefreshToken, error) {
	if err := s.enter(ctx, "RotateRefreshToken"); err != nil {
		var zero storage.RefreshToken
		return zero, err
	}
	return s.Store.RotateRefreshToken(ctx, oldHash, usedAt, idempotencyKey, replay, next)
}

// RevokeFamily fails while the store is broken.
func (s *Store) RevokeFamily(ctx context.Context, familyID string, at time.Time) ([]storage.RefreshToken, error) {
	if err := s.enter(ctx, "RevokeFamily"); err != nil {
		var zero []storage.RefreshToken
		return zero, err
	}
	return s.Store.RevokeFamily(ctx, familyID, at)
}

// RevokeSubjectFamilies fails while the store is broken.
func (s *Store) RevokeSubjectFamilies(ctx context.Context, appID, subject string, at time.Time) ([]storage.RefreshToken, error) {
	if err := s.enter(ctx, "RevokeSubjectFamilies"); err != nil {
		var zero []storage.RefreshToken
		return zero, err
	}
	return s.Store.RevokeSubjectFamilies(ctx, appID, subject, at)
}

// SweepRefreshTokens fails while the store is broken.
func (s *Store) SweepRefreshTokens(ctx context.Context, now time.Time) (int, error) {
	if err := s.enter(ctx, "SweepRefreshTokens"); err != nil {
		var zero int
		return zero, err
	}
	return s.Store.SweepRefreshTokens(ctx, now)
}

// AddRevocations fails while the store is broken.
func (s *Store) AddRevocations(ctx context.Context, rs []storage.Revocation) error {
	if err := s.enter(ctx, "AddRevocations"); err != nil {
		return err
	}
	return s.Store.AddRevocations(ctx, rs)
}

// ListRevocations fails while the store is broken.
func (s *Store) ListRevocations(ctx context.Context, now time.Time) ([]storage.Revocation, error) {
	if err := s.enter(ctx, "ListRevocations"); err != nil {
		var zero []storage.Revocation
		return zero, err
	}
	return s.Store.ListRevocations(ctx, now)
}

// SweepRevocations fails while the store is broken.
func (s *Store) SweepRevocations(ctx context.Context, now time.Time) (int, error) {
	if err := s.enter(ctx, "SweepRevocations"); err != nil {
		var zero int
		return zero, err
	}
	return s.Store.SweepRevocations(ctx, now)
}

// Ping fails while the store is broken.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.enter(ctx, "Ping"); err != nil {
		return err
	}
	return s.Store.Ping(ctx)
}
