package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/servertest"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/faulty"
)

// scrape reads /metrics of a test server.
func scrape(t *testing.T, h *servertest.Harness) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get("http://" + h.Server.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var p expfmt.TextParser
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	return mfs, string(body)
}

// sample returns the value of the series name{labels} (a histogram's
// count), and whether it exists.
func sample(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf, ok := mfs[name]
	if !ok {
		return 0, false
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
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func httpStatus(t *testing.T, h *servertest.Harness, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + h.Server.HTTPAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsAfterTraffic drives every counted outcome once or more and
// reads the exact values back from /metrics; no subject, token or key
// appears in it.
func TestMetricsAfterTraffic(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := t.Context()
	created := createApp(t, h.Admin, "ES256")
	appID := created.GetApp().GetAppId()
	secrets := []string{servertest.AdminKey, created.GetPrivateKeyPem()}

	issue := func(req *tokendv1.IssueTokenRequest) *tokendv1.IssueTokenResponse {
		t.Helper()
		resp, err := h.Admin.IssueToken(ctx, req)
		if err != nil {
			t.Fatalf("IssueToken: %v", err)
		}
		secrets = append(secrets, resp.GetAccessToken(), resp.GetRefreshToken())
		return resp
	}
	first := issue(&tokendv1.IssueTokenRequest{AppId: appID, Subject: "alice-metrics"})
	issue(&tokendv1.IssueTokenRequest{AppId: appID, Subject: "alice-metrics"})
	withRefresh := issue(&tokendv1.IssueTokenRequest{AppId: appID, Subject: "bob-metrics", IssueRefreshToken: true})
	if _, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "x", Ttl: durationpb.New(time.Minute)}); !errors.Is(err, client.ErrTTLOutOfRange) {
		t.Fatalf("IssueToken with a 1m TTL: %v", err)
	}
	if _, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: "app_nope", Subject: "x"}); !errors.Is(err, client.ErrAppNotFound) {
		t.Fatalf("IssueToken for an unknown app: %v", err)
	}

	validate := func(req *tokendv1.ValidateTokenRequest) {
		t.Helper()
		_, _ = h.Admin.ValidateToken(ctx, req)
	}
	validate(&tokendv1.ValidateTokenRequest{Token: first.GetAccessToken()})
	validate(&tokendv1.ValidateTokenRequest{Token: first.GetAccessToken(), AppId: appID})
	tampered := first.GetAccessToken()[:len(first.GetAccessToken())-4] + "AAAA"
	validate(&tokendv1.ValidateTokenRequest{Token: tampered})
	validate(&tokendv1.ValidateTokenRequest{Token: "garbage", AppId: appID})
	validate(&tokendv1.ValidateTokenRequest{Token: ""})

	refreshed, err := h.Admin.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: withRefresh.GetRefreshToken()})
	if err != nil {
		t.Fatalf("RefreshToken: %v", err)
	}
	secrets = append(secrets, refreshed.GetAccessToken(), refreshed.GetRefreshToken())
	if _, err := h.Admin.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: withRefresh.GetRefreshToken()}); !errors.Is(err, client.ErrRefreshReused) {
		t.Fatalf("reused refresh token: %v", err)
	}
	revoke := []*tokendv1.RevokeTokenRequest{
		{AppId: appID, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: first.GetTokenId()}},
		{AppId: appID, Target: &tokendv1.RevokeTokenRequest_Subject{Subject: "alice-metrics"}},
	}
	for _, r := range revoke {
		if _, err := h.Admin.RevokeToken(ctx, r); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
	}
	rotated, err := h.Admin.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: appID})
	if err != nil {
		t.Fatalf("RotateAppKey: %v", err)
	}
	secrets = append(secrets, rotated.GetPrivateKeyPem())

	mfs, body := scrape(t, h)
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tokend_tokens_issued_total", []string{"app", appID, "outcome", "OK"}, 3},
		{"tokend_tokens_issued_total", []string{"app", appID, "outcome", "TTL_OUT_OF_RANGE"}, 1},
		{"tokend_tokens_issued_total", []string{"app", "unknown", "outcome", "APP_NOT_FOUND"}, 1},
		{"tokend_tokens_validated_total", []string{"app", appID, "outcome", "VALID"}, 2},
		{"tokend_tokens_validated_total", []string{"app", appID, "outcome", "INVALID"}, 1},
		{"tokend_tokens_validated_total", []string{"app", "unknown", "outcome", "INVALID"}, 1},
		{"tokend_tokens_validated_total", []string{"app", "unknown", "outcome", "TOKEN_EMPTY"}, 1},
		{"tokend_token_validation_failures_total", []string{"reason", "BAD_SIGNATURE"}, 1},
		{"tokend_token_validation_failures_total", []string{"reason", "MALFORMED"}, 1},
		{"tokend_token_validation_failures_total", []string{"reason", "EXPIRED"}, 0},
		{"tokend_token_refreshes_total", []string{"app", appID, "outcome", "OK"}, 1},
		{"tokend_token_refreshes_total", []string{"app", "unknown", "outcome", "REFRESH_TOKEN_REUSED"}, 1},
		{"tokend_refresh_token_reuse_detected_total", nil, 1},
		{"tokend_revocations_total", []string{"kind", "token_id"}, 1},
		{"tokend_revocations_total", []string{"kind", "subject"}, 1},
		{"tokend_revocations_total", []string{"kind", "refresh_token"}, 0},
		{"tokend_key_rotations_total", []string{"trigger", "manual"}, 1},
		{"tokend_key_rotations_total", []string{"trigger", "scheduled"}, 0},
		// token_id and subject above, and the two access tokens of the
		// reused family.
		{"tokend_denylist_entries", nil, 4},
		{"tokend_apps", nil, 1},
		{"tokend_store_up", nil, 1},
		{"tokend_validation_cache_lookups_total", []string{"result", "hit"}, 0},
		{"tokend_build_info", []string{"version", "dev"}, 1},
		{"grpc_server_handled_total", []string{"grpc_method", "IssueToken", "grpc_code", "OK"}, 3},
		{"grpc_server_handled_total", []string{"grpc_method", "ValidateToken", "grpc_code", "OK"}, 4},
	} {
		got, ok := sample(mfs, tt.name, tt.labels...)
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	for _, op := range []string{"CreateApp", "CreateRefreshToken", "RotateRefreshToken", "UpdateKeys", "AddRevocations"} {
		if n, ok := sample(mfs, "tokend_store_operation_duration_seconds", "operation", op); !ok || n < 1 {
			t.Errorf("tokend_store_operation_duration_seconds{operation=%q} count = %v, want at least 1", op, n)
		}
	}
	if n, _ := sample(mfs, "tokend_store_errors_total", "operation", "RotateRefreshToken"); n != 0 {
		t.Errorf("tokend_store_errors_total{operation=RotateRefreshToken} = %v: a reused token is an answer, not a store error", n)
	}
	// The dashboard and the documented alerts use only metrics that exist.
	for _, doc := range []string{"../docs/grafana-dashboard.json", "../docs/operations.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		names := regexp.MustCompile(`\b(?:tokend|grpc_server|go|process)_[a-z_]+`).FindAllString(string(b), -1)
		if len(names) == 0 {
			t.Errorf("%s names no metric", doc)
		}
		for _, name := range names {
			family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
			if _, ok := mfs[family]; !ok {
				t.Errorf("%s uses %s, which /metrics does not have", doc, name)
			}
		}
	}
	for _, s := range append(secrets, "alice-metrics", "bob-metrics") {
		for _, part := range secretParts(s) {
			if part != "" && strings.Contains(body, part) {
				t.Errorf("/metrics holds a secret or subject (%.12s...)", part)
			}
		}
	}
}

// startWithFaultyStore runs a server whose store can be made to go away.
func startWithFaultyStore(t *testing.T, opts ...servertest.Option) (*servertest.Harness, *faulty.Store) {
	t.Helper()
	var f *faulty.Store
	opts = append([]servertest.Option{
		servertest.WithServerOption(server.WithStoreWrapper(func(st storage.Store) storage.Store {
			f = faulty.New(st)
			return f
		})),
	}, opts...)
	h := servertest.Start(t, opts...)
	return h, f
}

// TestHealthFollowsTheStore makes the store go away and come back, and
// watches the gRPC health of every service, /readyz and tokend_store_up
// flip and flip back. Validation keeps answering from memory meanwhile.
func TestHealthFollowsTheStore(t *testing.T) {
	t.Parallel()
	h, f := startWithFaultyStore(t, servertest.WithConfig(func(c *server.Config) { c.HealthCheckInterval = 20 * time.Millisecond }))
	ctx := t.Context()
	created := createApp(t, h.Admin, "ES256")
	issued, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: created.GetApp().GetAppId(), Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	hc := healthpb.NewHealthClient(h.Admin.Conn())
	watchCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The server's own status ("") changes last, after every service's.
	watch, err := hc.Watch(watchCtx, &healthpb.HealthCheckRequest{Service: ""})
	if err != nil {
		t.Fatal(err)
	}
	await := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for {
			resp, err := watch.Recv()
			if err != nil {
				t.Fatalf("health watch: %v (waiting for %v)", err, want)
			}
			if resp.GetStatus() == want {
				return
			}
		}
	}
	services := []string{"", tokendv1.TokenService_ServiceDesc.ServiceName, tokendv1.AppService_ServiceDesc.ServiceName,
		tokendv1.CallerService_ServiceDesc.ServiceName, "envoy.service.auth.v3.Authorization"}
	check := func(want healthpb.HealthCheckResponse_ServingStatus, wantReady int) {
		t.Helper()
		for _, svc := range services {
			resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || resp.GetStatus() != want {
				t.Errorf("health of %q = %v, %v; want %v", svc, resp.GetStatus(), err, want)
			}
		}
		if code, body := httpStatus(t, h, "/readyz"); code != wantReady {
			t.Errorf("/readyz = %d %q, want %d", code, body, wantReady)
		}
		if code, _ := httpStatus(t, h, "/healthz"); code != http.StatusOK {
			t.Errorf("/healthz = %d: the process is alive", code)
		}
		mfs, _ := scrape(t, h)
		up := 0.0
		if want == healthpb.HealthCheckResponse_SERVING {
			up = 1
		}
		if got, _ := sample(mfs, "tokend_store_up"); got != up {
			t.Errorf("tokend_store_up = %v, want %v", got, up)
		}
	}

	await(healthpb.HealthCheckResponse_SERVING)
	check(healthpb.HealthCheckResponse_SERVING, http.StatusOK)

	f.Break(nil)
	await(healthpb.HealthCheckResponse_NOT_SERVING)
	check(healthpb.HealthCheckResponse_NOT_SERVING, http.StatusServiceUnavailable)
	if _, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: created.GetApp().GetAppId(), Subject: "bob", IssueRefreshToken: true}); !errors.Is(err, client.ErrStoreUnavailable) {
		t.Errorf("IssueToken with a refresh token while the store is away: %v, want STORE_UNAVAILABLE", err)
	}
	if v, err := h.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken()}); err != nil || !v.GetValid() {
		t.Errorf("ValidateToken while the store is away: %v, %v; want valid (it needs no store)", v, err)
	}

	f.Repair()
	await(healthpb.HealthCheckResponse_SERVING)
	check(healthpb.HealthCheckResponse_SERVING, http.StatusOK)
}

// TestShutdownDrainsInFlightCalls stops the server while calls wait in the
// store; every one of them finishes OK, and the server then refuses new
// calls and stops.
func TestShutdownDrainsInFlightCalls(t *testing.T) {
	t.Parallel()
	h, f := startWithFaultyStore(t)
	ctx := t.Context()
	appID := createApp(t, h.Admin, "ES256").GetApp().GetAppId()
	c, err := client.New(h.Addr(), client.WithAPIKey(servertest.AdminKey), client.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "warm-up"}); err != nil {
		t.Fatal(err) // the connection is up before the store slows down
	}

	const n = 16
	f.SetDelay(300 * time.Millisecond)
	before := f.Calls("CreateRefreshToken")
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "in-flight", IssueRefreshToken: true})
			if err != nil {
				err = fmt.Errorf("call %d: %w", i, err)
			}
			errs <- err
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.Calls("CreateRefreshToken")-before < n { // every call is inside the store
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d calls reached the store", f.Calls("CreateRefreshToken")-before, n)
		}
		time.Sleep(time.Millisecond)
	}
	stopped := make(chan struct{})
	go func() { h.Stop(); close(stopped) }()
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("in-flight call failed during shutdown: %v", err)
		}
	}
	<-stopped
	if _, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "late"}); status.Code(err) != codes.Unavailable {
		t.Errorf("call after shutdown: %v, want UNAVAILABLE", err)
	}
}

// TestTracing records spans in memory: calls are traced with the
// caller's trace id, and no token, refresh token or API key is in any
// span; log lines of a traced call carry its trace id.
func TestTracing(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := servertest.Start(t, servertest.WithServerOption(server.WithTracerProvider(tp)))
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	ctx := metadata.AppendToOutgoingContext(t.Context(), "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")

	created := createApp(t, h.Admin, "ES256")
	appID := created.GetApp().GetAppId()
	secrets := []string{servertest.AdminKey, created.GetPrivateKeyPem()}
	issued, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "carol", IssueRefreshToken: true})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, issued.GetAccessToken(), issued.GetRefreshToken())
	if _, err := h.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken()}); err != nil {
		t.Fatal(err)
	}
	refreshed, err := h.Admin.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: issued.GetRefreshToken()})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, refreshed.GetAccessToken(), refreshed.GetRefreshToken())
	if _, err := h.Admin.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appID, Target: &tokendv1.RevokeTokenRequest_RefreshToken{RefreshToken: refreshed.GetRefreshToken()}}); err != nil {
		t.Fatal(err)
	}
	caller, err := h.Admin.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: "traced", Roles: []string{"validator"}})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, caller.GetApiKey())
	_, _ = h.Client(t, caller.GetApiKey()).ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: "not.a.token"})

	spans := exp.GetSpans()
	traced := map[string]bool{}
	for _, sp := range spans {
		if sp.SpanContext.TraceID().String() == traceID {
			traced[sp.Name] = true
		}
		texts := []string{sp.Name, sp.Status.Description}
		for _, a := range sp.Attributes {
			texts = append(texts, a.Value.String())
		}
		for _, ev := range sp.Events {
			texts = append(texts, ev.Name)
			for _, a := range ev.Attributes {
				texts = append(texts, a.Value.String())
			}
		}
		for _, text := range texts {
			for _, s := range secrets {
				for _, part := range secretParts(s) {
					if strings.Contains(text, part) {
						t.Errorf("span %s holds a secret (%.12s...)", sp.Name, part)
					}
				}
			}
		}
	}
	for _, m := range []string{"IssueToken", "ValidateToken", "RefreshToken", "RevokeToken"} {
		if !traced["tokend.v1.TokenService/"+m] {
			t.Errorf("no span of %s in the caller's trace; spans: %d", m, len(spans))
		}
	}
	for _, line := range strings.Split(h.Logs.String(), "\n") {
		if !strings.Contains(line, `"msg":"finished call"`) || !strings.Contains(line, "ValidateToken") {
			continue
		}
		if strings.Count(line, `"trace_id":"`+traceID+`"`) != 1 || strings.Count(line, `"request_id"`) != 1 {
			t.Errorf("access line of a traced call lacks its trace id or request id, or has one twice: %s", line)
		}
	}
}

// TestNoTracingByDefault: without tracing, a caller's trace context is
// ignored and log lines carry no trace id.
func TestNoTracingByDefault(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	_, _ = h.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: "not.a.token"})
	if logs := h.Logs.String(); strings.Contains(logs, "trace_id") || !strings.Contains(logs, "finished call") {
		t.Errorf("logs without tracing: %s", logs)
	}
}

// TestAccessLogLine: one line per call with the method, code, duration,
// caller, app and request id.
func TestAccessLogLine(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	appID := createApp(t, h.Admin, "ES256").GetApp().GetAppId()
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-request-id", "req-access-1")
	if _, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "dave"}); err != nil {
		t.Fatal(err)
	}
	var found []map[string]any
	for _, line := range strings.Split(h.Logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["request_id"] == "req-access-1" && m["msg"] == "finished call" {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d access lines for the call, want 1", len(found))
	}
	l := found[0]
	want := map[string]any{"grpc.service": "tokend.v1.TokenService", "grpc.method": "IssueToken", "grpc.code": "OK", "caller": auth.BootstrapAdminID, "app": appID}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("access line %s = %v, want %v (line %v)", k, l[k], v, l)
		}
	}
	if l["grpc.time_ms"] == nil || l["grpc.request.deadline"] == nil {
		t.Errorf("access line lacks the duration or the deadline: %v", l)
	}
}

// TestDefaultDeadline: a call without a deadline gets the configured one
// (the access line shows it).
func TestDefaultDeadline(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.DefaultRPCTimeout = 42 * time.Minute }))
	c, err := client.New(h.Addr(), client.WithAPIKey(servertest.AdminKey), client.WithTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-request-id", "req-deadline-1")
	start := time.Now()
	if _, err := c.ListApps(ctx, &tokendv1.ListAppsRequest{}); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(h.Logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["request_id"] != "req-deadline-1" {
			continue
		}
		d, _ := m["grpc.request.deadline"].(string)
		at, err := time.Parse(time.RFC3339, d)
		if err != nil {
			t.Fatalf("access line deadline %q: %v", d, err)
		}
		if left := at.Sub(start); left < 41*time.Minute || left > 43*time.Minute {
			t.Errorf("deadline %s after the call, want the 42m default", left)
		}
		return
	}
	t.Fatal("no access line of the call")
}

// TestMaxMessageSize: a request larger than max-message-size is refused
// before any handler, and one within it passes.
func TestMaxMessageSize(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.MaxMessageSize = 16 << 10 }))
	ctx := t.Context()
	for _, tc := range []struct {
		size int
		want codes.Code
	}{
		{4 << 10, codes.OK},
		{20 << 10, codes.ResourceExhausted},
	} {
		tok := strings.Repeat("a", tc.size)
		_, err := h.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: tok})
		if got := status.Code(err); got != tc.want {
			t.Errorf("ValidateToken of %d bytes: %v, want %v", tc.size, err, tc.want)
		}
	}
}
