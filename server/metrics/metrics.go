package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokend/tokend/server/token"
)

// Label values of the outcome and result labels.
const (
	// OutcomeOK is the outcome of a call that succeeded.
	OutcomeOK = "OK"
	// OutcomeValid and OutcomeInvalid are the outcomes of a ValidateToken
	// call that answered; a refused request counts with its ErrorInfo
	// reason instead.
	OutcomeValid   = "VALID"
	OutcomeInvalid = "INVALID"
	// UnknownApp is the app label when the app is not known (the request
	// named an app that does not exist, or the token's signature did not
	// verify).
	UnknownApp = "unknown"
)

// Metrics holds tokend's domain metrics. Its methods are safe for
// concurrent use; a nil *Metrics records nothing.
type Metrics struct {
	issued      *prometheus.CounterVec
	validated   *prometheus.CounterVec
	failures    *prometheus.CounterVec
	refreshes   *prometheus.CounterVec
	reuse       prometheus.Counter
	revocations *prometheus.CounterVec
	rotations   *prometheus.CounterVec
	cache       *prometheus.CounterVec
	storeUp     prometheus.Gauge
	store       *storeMetrics
	reg         prometheus.Registerer

	// byReason are the failure counters by token.Reason, resolved once.
	byReason [token.ReasonRevoked + 1]prometheus.Counter
	// cacheHit and cacheMiss are the cache lookup counters, resolved once.
	cacheHit, cacheMiss prometheus.Counter

	// apps maps an app id to its resolved counters: the hot path reads
	// it without a lock or an allocation.
	apps resolved[string, *appCounters]
}

// appCounters are the counters of one app, resolved once.
type appCounters struct {
	issuedOK, valid, invalid, refreshedOK prometheus.Counter
}

// New registers the metrics with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		reg: reg,
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_tokens_issued_total",
			Help: "IssueToken calls by app and outcome (OK, or the ErrorInfo reason of the refusal).",
		}, []string{"app", "outcome"}),
		validated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_tokens_validated_total",
			Help: "ValidateToken calls by app and outcome: VALID, INVALID (the reason is in tokend_token_validation_failures_total), or the ErrorInfo reason of a refused request. The app is the token's once its signature verified, else unknown.",
		}, []string{"app", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_token_validation_failures_total",
			Help: "Tokens ValidateToken answered invalid, by InvalidReason.",
		}, []string{"reason"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_token_refreshes_total",
			Help: "RefreshToken calls by app and outcome (OK, or the ErrorInfo reason of the refusal); the app is unknown when the refresh failed.",
		}, []string{"app", "outcome"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tokend_refresh_token_reuse_detected_total",
			Help: "Refresh tokens presented again after they were rotated; each revoked its whole family.",
		}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_revocations_total",
			Help: "Successful RevokeToken calls by target kind (token_id, refresh_token, subject).",
		}, []string{"kind"}),
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_key_rotations_total",
			Help: "App key rotations made by this process, by trigger (manual: RotateAppKey; scheduled: the app's key rotation period).",
		}, []string{"trigger"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_validation_cache_lookups_total",
			Help: "Validation cache lookups by result (hit, miss).",
		}, []string{"result"}),
		storeUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tokend_store_up",
			Help: "1 while the last health check reached the store, 0 while it does not.",
		}),
		store: newStoreMetrics(),
	}
	for _, c := range []prometheus.Collector{m.issued, m.validated, m.failures, m.refreshes, m.reuse,
		m.revocations, m.rotations, m.cache, m.storeUp, m.store.duration, m.store.errors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	for r := range m.byReason {
		if token.Reason(r) != token.ReasonNone {
			m.byReason[r] = m.failures.WithLabelValues(token.Reason(r).String())
		}
	}
	m.cacheHit, m.cacheMiss = m.cache.WithLabelValues("hit"), m.cache.WithLabelValues("miss")
	for _, kind := range []string{"token_id", "refresh_token", "subject"} {
		m.revocations.WithLabelValues(kind) // present at 0 from the start, for rate()
	}
	for _, trigger := range []string{"manual", "scheduled"} {
		m.rotations.WithLabelValues(trigger)
	}
	m.storeUp.Set(1) // New runs after the store opened
	return m, nil
}

// app returns the resolved counters of an app, making them on first use.
func (m *Metrics) app(id string) *appCounters {
	return m.apps.get(id, func() *appCounters {
		return &appCounters{
			issuedOK:    m.issued.WithLabelValues(id, OutcomeOK),
			valid:       m.validated.WithLabelValues(id, OutcomeValid),
			invalid:     m.validated.WithLabelValues(id, OutcomeInvalid),
			refreshedOK: m.refreshes.WithLabelValues(id, OutcomeOK),
		}
	})
}

func appLabel(app string) string {
	if app == "" {
		return UnknownApp
	}
	return app
}

// TokenIssued counts an IssueToken call. app must be an existing app's id
// or "" (unknown); outcome is OutcomeOK or an ErrorInfo reason.
func (m *Metrics) TokenIssued(app, outcome string) {
	if m == nil {
		return
	}
	if outcome == OutcomeOK && app != "" {
		m.app(app).issuedOK.Inc()
		return
	}
	m.issued.WithLabelValues(appLabel(app), outcome).Inc()
}

// TokenValidated counts a ValidateToken answer: app is the id of the
// token's app once its signature verified ("" before), reason why it is
// not valid (token.ReasonNone when it is). It allocates nothing.
func (m *Metrics) TokenValidated(app string, reason token.Reason) {
	if m == nil {
		return
	}
	c := m.app(appLabel(app))
	if reason == token.ReasonNone {
		c.valid.Inc()
		return
	}
	c.invalid.Inc()
	if int(reason) > 0 && int(reason) < len(m.byReason) {
		m.byReason[reason].Inc()
		return
	}
	m.failures.WithLabelValues(reason.String()).Inc()
}

// ValidationRefused counts a ValidateToken request refused with an error
// (an empty, oversized or non-UTF-8 token, a scope denial); outcome is the
// ErrorInfo reason.
func (m *Metrics) ValidationRefused(outcome string) {
	if m == nil {
		return
	}
	m.validated.WithLabelValues(UnknownApp, outcome).Inc()
}

// TokenRefreshed counts a RefreshToken call; app is "" when unknown.
func (m *Metrics) TokenRefreshed(app, outcome string) {
	if m == nil {
		return
	}
	if outcome == OutcomeOK && app != "" {
		m.app(app).refreshedOK.Inc()
		return
	}
	m.refreshes.WithLabelValues(appLabel(app), outcome).Inc()
}

// RefreshReuseDetected counts a refresh token presented after rotation.
func (m *Metrics) RefreshReuseDetected() {
	if m == nil {
		return
	}
	m.reuse.Inc()
}

// TokenRevoked counts a successful revocation by target kind (token_id,
// refresh_token or subject).
func (m *Metrics) TokenRevoked(kind string) {
	if m == nil {
		return
	}
	m.revocations.WithLabelValues(kind).Inc()
}

// KeyRotated counts an app key rotation; scheduled is true for automatic
// rotations. It has the shape of keys.RotationObserver.
func (m *Metrics) KeyRotated(_ string, scheduled bool) {
	if m == nil {
		return
	}
	trigger := "manual"
	if scheduled {
		trigger = "scheduled"
	}
	m.rotations.WithLabelValues(trigger).Inc()
}

// CacheHit counts a validation cache hit. For the validation cache: declare
// an interface with CacheHit and CacheMiss where the cache lives and wire a
// *Metrics into it in server.New.
func (m *Metrics) CacheHit() {
	if m != nil {
		m.cacheHit.Inc()
	}
}

// CacheMiss counts a validation cache miss.
func (m *Metrics) CacheMiss() {
	if m != nil {
		m.cacheMiss.Inc()
	}
}

// StoreUp records the result of a store health check.
func (m *Metrics) StoreUp(up bool) {
	if m == nil {
		return
	}
	if up {
		m.storeUp.Set(1)
	} else {
		m.storeUp.Set(0)
	}
}

// Gauge registers a gauge named name whose value is read from f at each
// scrape (the denylist size, the number of apps, a cache's size). f must
// be cheap and safe for concurrent use.
func (m *Metrics) Gauge(name, help string, f func() float64) error {
	if m == nil {
		return nil
	}
	if err := m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)); err != nil {
		return fmt.Errorf("metrics: register %s: %w", name, err)
	}
	return nil
}
