package metrics_test

import (
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokend/tokend/server/metrics"
	"github.com/tokend/tokend/server/storage/faulty"
	"github.com/tokend/tokend/server/storage/sqlite"
	"github.com/tokend/tokend/server/token"
)

func newMetrics(t *testing.T) (*metrics.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// TestHotPathAllocatesNothing: counting a validation, valid or not, of a
// known app or not, allocates nothing once the app's counters exist.
func TestHotPathAllocatesNothing(t *testing.T) {
	m, _ := newMetrics(t)
	m.TokenValidated("app_1", token.ReasonNone) // first use makes the counters
	m.TokenValidated("", token.ReasonExpired)
	for _, tc := range []struct {
		name   string
		app    string
		reason token.Reason
	}{
		{"valid", "app_1", token.ReasonNone},
		{"invalid", "app_1", token.ReasonBadSignature},
		{"unknown app", "", token.ReasonUnknownKey},
	} {
		if n := testing.AllocsPerRun(1000, func() { m.TokenValidated(tc.app, tc.reason) }); n != 0 {
			t.Errorf("%s: TokenValidated allocates %v times per call", tc.name, n)
		}
	}
	if n := testing.AllocsPerRun(1000, func() { m.CacheHit(); m.CacheMiss() }); n != 0 {
		t.Errorf("CacheHit/CacheMiss allocate %v times per call", n)
	}
}

// value returns the value of name{labels} gathered from reg.
func value(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Errorf("no series %s%v", name, labels)
	return -1
}

func TestCounting(t *testing.T) {
	t.Parallel()
	m, reg := newMetrics(t)
	m.TokenIssued("app_1", metrics.OutcomeOK)
	m.TokenIssued("app_1", metrics.OutcomeOK)
	m.TokenIssued("", "APP_NOT_FOUND")
	m.TokenValidated("app_1", token.ReasonNone)
	m.TokenValidated("", token.ReasonRevoked)
	m.ValidationRefused("TOKEN_EMPTY")
	m.TokenRefreshed("app_1", metrics.OutcomeOK)
	m.TokenRefreshed("", "REFRESH_TOKEN_REUSED")
	m.RefreshReuseDetected()
	m.TokenRevoked("subject")
	m.KeyRotated("app_1", true)
	m.CacheHit()
	m.StoreUp(false)
	if err := m.Gauge("tokend_test_size", "test", func() float64 { return 7 }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tokend_tokens_issued_total", []string{"app", "app_1", "outcome", "OK"}, 2},
		{"tokend_tokens_issued_total", []string{"app", "unknown", "outcome", "APP_NOT_FOUND"}, 1},
		{"tokend_tokens_validated_total", []string{"app", "app_1", "outcome", "VALID"}, 1},
		{"tokend_tokens_validated_total", []string{"app", "unknown", "outcome", "INVALID"}, 1},
		{"tokend_tokens_validated_total", []string{"app", "unknown", "outcome", "TOKEN_EMPTY"}, 1},
		{"tokend_token_validation_failures_total", []string{"reason", "REVOKED"}, 1},
		{"tokend_token_validation_failures_total", []string{"reason", "EXPIRED"}, 0},
		{"tokend_token_refreshes_total", []string{"app", "app_1", "outcome", "OK"}, 1},
		{"tokend_token_refreshes_total", []string{"app", "unknown", "outcome", "REFRESH_TOKEN_REUSED"}, 1},
		{"tokend_refresh_token_reuse_detected_total", nil, 1},
		{"tokend_revocations_total", []string{"kind", "subject"}, 1},
		{"tokend_revocations_total", []string{"kind", "token_id"}, 0},
		{"tokend_key_rotations_total", []string{"trigger", "scheduled"}, 1},
		{"tokend_key_rotations_total", []string{"trigger", "manual"}, 0},
		{"tokend_validation_cache_lookups_total", []string{"result", "hit"}, 1},
		{"tokend_validation_cache_lookups_total", []string{"result", "miss"}, 0},
		{"tokend_store_up", nil, 0},
		{"tokend_test_size", nil, 7},
	} {
		if got := value(t, reg, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

// TestStoreTimesAndCountsFailures: every store operation is timed; only
// failures of the store (not answers like not found) count as errors.
func TestStoreTimesAndCountsFailures(t *testing.T) {
	t.Parallel()
	m, reg := newMetrics(t)
	real, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tokend.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = real.Close() })
	f := faulty.New(real)
	st := m.Store(f)
	ctx := t.Context()
	if _, err := st.GetApp(ctx, "app_none"); err == nil {
		t.Fatal("GetApp of a missing app succeeded")
	}
	f.Break(nil)
	if err := st.Ping(ctx); err == nil {
		t.Fatal("Ping of a broken store succeeded")
	}
	f.Repair()
	if err := st.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		op   string
		want float64
	}{
		{"tokend_store_operation_duration_seconds", "GetApp", 1},
		{"tokend_store_operation_duration_seconds", "Ping", 2},
		{"tokend_store_errors_total", "GetApp", 0}, // not found is an answer
		{"tokend_store_errors_total", "Ping", 1},
	} {
		if got := value(t, reg, tc.name, "operation", tc.op); got != tc.want {
			t.Errorf("%s{operation=%q} = %v, want %v", tc.name, tc.op, got, tc.want)
		}
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.TokenIssued("a", "OK")
	m.TokenValidated("a", token.ReasonNone)
	m.CacheHit()
	m.StoreUp(true)
	if err := m.Gauge("x", "y", func() float64 { return 0 }); err != nil {
		t.Error(err)
	}
}
