package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokend/tokend/server/storage"
)

// Store operations, the values of the operation label.
const (
	opCreateApp = iota
	opGetApp
	opListApps
	opUpdateApp
	opListKeys
	opListAllKeys
	opUpdateKeys
	opCreateCaller
	opPutCaller
	opGetCaller
	opListCallers
	opDeleteCaller
	opAddAPIKey
	opListAPIKeys
	opCreateRefreshToken
	opGetRefreshToken
	opRotateRefreshToken
	opRevokeFamily
	opRevokeSubjectFamilies
	opSweepRefreshTokens
	opAddRevocations
	opListRevocations
	opSweepRevocations
	opPing
	numOps
)

var opNames = [numOps]string{
	"CreateApp", "GetApp", "ListApps", "UpdateApp", "ListKeys", "ListAllKeys", "UpdateKeys",
	"CreateCaller", "PutCaller", "GetCaller", "ListCallers", "DeleteCaller", "AddAPIKey", "ListAPIKeys",
	"CreateRefreshToken", "GetRefreshToken", "RotateRefreshToken", "RevokeFamily", "RevokeSubjectFamilies",
	"SweepRefreshTokens", "AddRevocations", "ListRevocations", "SweepRevocations", "Ping",
}

// storeMetrics are the store latency histogram and error counter, with
// their children resolved once per operation.
type storeMetrics struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	observe  [numOps]prometheus.Observer
	fail     [numOps]prometheus.Counter
}

func newStoreMetrics() *storeMetrics {
	s := &storeMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tokend_store_operation_duration_seconds",
			Help:    "Latency of store operations, by operation (the storage.Store method).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_store_errors_total",
			Help: "Store operations that failed unexpectedly (the store unavailable or broken; not found, conflicts and the like are answers, not errors), by operation.",
		}, []string{"operation"}),
	}
	for op := range numOps {
		s.observe[op] = s.duration.WithLabelValues(opNames[op])
		s.fail[op] = s.errors.WithLabelValues(opNames[op])
	}
	return s
}

func (s *storeMetrics) done(op int, start time.Time, err error) {
	s.observe[op].Observe(time.Since(start).Seconds())
	if err != nil && !expected(err) {
		s.fail[op].Inc()
	}
}

// expected reports whether err is an answer of the store rather than a
// failure of it.
func expected(err error) bool {
	return errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrAlreadyExists) ||
		errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrRefreshUsed) ||
		errors.Is(err, context.Canceled)
}

// Store returns st with every operation timed into
// tokend_store_operation_duration_seconds and its failures counted in
// tokend_store_errors_total. Methods added to storage.Store later pass
// through untimed until they are listed here. A nil m returns st.
func (m *Metrics) Store(st storage.Store) storage.Store {
	if m == nil {
		return st
	}
	return &timedStore{Store: st, m: m.store}
}

type timedStore struct {
	storage.Store
	m *storeMetrics
}

var _ storage.Store = (*timedStore)(nil)

func (s *timedStore) CreateApp(ctx context.Context, app storage.App, keys []storage.Key) error {
	start := time.Now()
	err := s.Store.CreateApp(ctx, app, keys)
	s.m.done(opCreateApp, start, err)
	return err
}

func (s *timedStore) GetApp(ctx context.Context, id string) (storage.App, error) {
	start := time.Now()
	v, err := s.Store.GetApp(ctx, id)
	s.m.done(opGetApp, start, err)
	return v, err
}

func (s *timedStore) ListApps(ctx context.Context, afterID string, limit int) ([]storage.App, error) {
	start := time.Now()
	v, err := s.Store.ListApps(ctx, afterID, limit)
	s.m.done(opListApps, start, err)
	return v, err
}

func (s *timedStore) UpdateApp(ctx context.Context, id string, fn func(storage.App) (storage.App, error)) (storage.App, error) {
	start := time.Now()
	v, err := s.Store.UpdateApp(ctx, id, fn)
	s.m.done(opUpdateApp, start, err)
	return v, err
}

func (s *timedStore) ListKeys(ctx context.Context, appID string) ([]storage.Key, error) {
	start := time.Now()
	v, err := s.Store.ListKeys(ctx, appID)
	s.m.done(opListKeys, start, err)
	return v, err
}

func (s *timedStore) ListAllKeys(ctx context.Context) ([]storage.Key, error) {
	start := time.Now()
	v, err := s.Store.ListAllKeys(ctx)
	s.m.done(opListAllKeys, start, err)
	return v, err
}

func (s *timedStore) UpdateKeys(ctx context.Context, appID string, fn func([]storage.Key) ([]storage.Key, error)) error {
	start := time.Now()
	err := s.Store.UpdateKeys(ctx, appID, fn)
	s.m.done(opUpdateKeys, start, err)
	return err
}

func (s *timedStore) CreateCaller(ctx context.Context, c storage.Caller, key storage.APIKey) error {
	start := time.Now()
	err := s.Store.CreateCaller(ctx, c, key)
	s.m.done(opCreateCaller, start, err)
	return err
}

func (s *timedStore) PutCaller(ctx context.Context, c storage.Caller, key storage.APIKey) error {
	start := time.Now()
	err := s.Store.PutCaller(ctx, c, key)
	s.m.done(opPutCaller, start, err)
	return err
}

func (s *timedStore) GetCaller(ctx context.Context, id string) (storage.Caller, error) {
	start := time.Now()
	v, err := s.Store.GetCaller(ctx, id)
	s.m.done(opGetCaller, start, err)
	return v, err
}

func (s *timedStore) ListCallers(ctx context.Context) ([]storage.Caller, error) {
	start := time.Now()
	v, err := s.Store.ListCallers(ctx)
	s.m.done(opListCallers, start, err)
	return v, err
}

func (s *timedStore) DeleteCaller(ctx context.Context, id string) error {
	start := time.Now()
	err := s.Store.DeleteCaller(ctx, id)
	s.m.done(opDeleteCaller, start, err)
	return err
}

func (s *timedStore) AddAPIKey(ctx context.Context, key storage.APIKey, graceEnd time.Time) error {
	start := time.Now()
	err := s.Store.AddAPIKey(ctx, key, graceEnd)
	s.m.done(opAddAPIKey, start, err)
	return err
}

func (s *timedStore) ListAPIKeys(ctx context.Context) ([]storage.APIKey, error) {
	start := time.Now()
	v, err := s.Store.ListAPIKeys(ctx)
	s.m.done(opListAPIKeys, start, err)
	return v, err
}

func (s *timedStore) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	start := time.Now()
	err := s.Store.CreateRefreshToken(ctx, t)
	s.m.done(opCreateRefreshToken, start, err)
	return err
}

func (s *timedStore) GetRefreshToken(ctx context.Context, hash string) (storage.RefreshToken, error) {
	start := time.Now()
	v, err := s.Store.GetRefreshToken(ctx, hash)
	s.m.done(opGetRefreshToken, start, err)
	return v, err
}

func (s *timedStore) RotateRefreshToken(ctx context.Context, oldHash string, usedAt time.Time, idempotencyKey string, replay []byte, next storage.RefreshToken) (storage.RefreshToken, error) {
	start := time.Now()
	v, err := s.Store.RotateRefreshToken(ctx, oldHash, usedAt, idempotencyKey, replay, next)
	s.m.done(opRotateRefreshToken, start, err)
	return v, err
}

func (s *timedStore) RevokeFamily(ctx context.Context, familyID string, at time.Time) ([]storage.RefreshToken, error) {
	start := time.Now()
	v, err := s.Store.RevokeFamily(ctx, familyID, at)
	s.m.done(opRevokeFamily, start, err)
	return v, err
}

func (s *timedStore) RevokeSubjectFamilies(ctx context.Context, appID, subject string, at time.Time) ([]storage.RefreshToken, error) {
	start := time.Now()
	v, err := s.Store.RevokeSubjectFamilies(ctx, appID, subject, at)
	s.m.done(opRevokeSubjectFamilies, start, err)
	return v, err
}

func (s *timedStore) SweepRefreshTokens(ctx context.Context, now time.Time) (int, error) {
	start := time.Now()
	v, err := s.Store.SweepRefreshTokens(ctx, now)
	s.m.done(opSweepRefreshTokens, start, err)
	return v, err
}

func (s *timedStore) AddRevocations(ctx context.Context, rs []storage.Revocation) error {
	start := time.Now()
	err := s.Store.AddRevocations(ctx, rs)
	s.m.done(opAddRevocations, start, err)
	return err
}

func (s *timedStore) ListRevocations(ctx context.Context, now time.Time) ([]storage.Revocation, error) {
	start := time.Now()
	v, err := s.Store.ListRevocations(ctx, now)
	s.m.done(opListRevocations, start, err)
	return v, err
}

func (s *timedStore) SweepRevocations(ctx context.Context, now time.Time) (int, error) {
	start := time.Now()
	v, err := s.Store.SweepRevocations(ctx, now)
	s.m.done(opSweepRevocations, start, err)
	return v, err
}

func (s *timedStore) Ping(ctx context.Context) error {
	start := time.Now()
	err := s.Store.Ping(ctx)
	s.m.done(opPing, start, err)
	return err
}
