package interceptor

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tokend/tokend/server/metrics"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// recorder notes which links of the chain ran, in order.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

type callerKey struct{}

// testChain is a full chain whose links record themselves and fail on
// demand.
type testChain struct {
	rec                            *recorder
	logs                           *bytes.Buffer
	reg                            *prometheus.Registry
	unary                          []grpc.UnaryServerInterceptor
	stream                         []grpc.StreamServerInterceptor
	failAuth, failAuthz, failLimit bool
}

type limiterFunc func(context.Context) error

func (f limiterFunc) Limit(ctx context.Context) error { return f(ctx) }

var errLimited = errors.New("limited")

func newTestChain(t *testing.T) *testChain {
	t.Helper()
	tc := &testChain{rec: &recorder{}, logs: &bytes.Buffer{}, reg: prometheus.NewRegistry()}
	grpcMetrics := metrics.NewGRPCServer()
	tc.reg.MustRegister(grpcMetrics)
	var logMu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&logMu, tc.logs}, nil))
	// Each link checks what the links outside it must have set up.
	tc.unary, tc.stream = Chain(Options{
		Logger:  log,
		Metrics: grpcMetrics,
		Auth: func(ctx context.Context) (context.Context, error) {
			tc.rec.add(StageAuth)
			if tc.failAuth {
				return ctx, status.Error(codes.Unauthenticated, "no")
			}
			return context.WithValue(ctx, callerKey{}, "c1"), nil
		},
		Audit: func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			tc.rec.add(StageAudit + ":caller=" + callerOf(ctx))
			resp, err := h(ctx, req)
			tc.rec.add(StageAudit + ":" + status.Code(err).String())
			return resp, err
		},
		Authorize: func(ctx context.Context, m string) error {
			tc.rec.add(StageAuthorize + ":caller=" + callerOf(ctx))
			if tc.failAuthz {
				return status.Error(codes.PermissionDenied, "no")
			}
			return nil
		},
		Limiter: limiterFunc(func(ctx context.Context) error {
			tc.rec.add(StageRateLimit + ":caller=" + callerOf(ctx))
			if tc.failLimit {
				return errLimited
			}
			return nil
		}),
		LimitError: func(_ context.Context, err error) error {
			if !errors.Is(err, errLimited) {
				t.Errorf("LimitError got %v, want the limiter's own error", err)
			}
			return status.Error(codes.ResourceExhausted, "slow down")
		},
		PanicError: func(context.Context) error { return status.Error(codes.Internal, "internal error") },
	})
	return tc
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func callerOf(ctx context.Context) string {
	s, _ := ctx.Value(callerKey{}).(string)
	return s
}

// callUnary runs the chain as the server does (ChainUnary).
func (tc *testChain) callUnary(method string, h grpc.UnaryHandler) error {
	info := &grpc.UnaryServerInfo{FullMethod: method}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(RequestIDHeader, "req-1"))
	_, err := ChainUnary(tc.unary...)(ctx, struct{}{}, info, h)
	return err
}

type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (f fakeStream) Context() context.Context { return f.ctx }

// callStream runs the stream chain.
func (tc *testChain) callStream(method string, h grpc.StreamHandler) error {
	info := &grpc.StreamServerInfo{FullMethod: method, IsServerStream: true}
	next := h
	for i := len(tc.stream) - 1; i >= 0; i-- {
		ic, inner := tc.stream[i], next
		next = func(srv any, ss grpc.ServerStream) error { return ic(srv, ss, info, inner) }
	}
	return next(nil, fakeStream{ctx: context.Background()})
}

func (tc *testChain) handled(t *testing.T, code codes.Code) float64 {
	t.Helper()
	mfs, err := tc.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "grpc_server_handled_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "grpc_code" && l.GetValue() == code.String() {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

const method = "/tokend.v1.TokenService/IssueToken"

func TestStageOrder(t *testing.T) {
	t.Parallel()
	var names []string
	for _, s := range stages(Options{
		Logger: slog.Default(), Metrics: metrics.NewGRPCServer(), DefaultDeadline: time.Second,
		Auth: func(ctx context.Context) (context.Context, error) { return ctx, nil },
		Audit: func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			return h(ctx, req)
		},
		Authorize: func(context.Context, string) error { return nil },
		Limiter:   limiterFunc(func(context.Context) error { return nil }),
	}) {
		names = append(names, s.name)
	}
	want := []string{StageRecovery, StageRequestID, StageDeadline, StageLogging, StageMetrics, StageAuth, StageAudit, StageAuthorize, StageRateLimit}
	if !slices.Equal(names, want) {
		t.Errorf("stages %v, want %v", names, want)
	}
}

func TestChainOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(*testChain)
		handler    grpc.UnaryHandler
		wantCode   codes.Code
		wantEvents []string
	}{
		{
			name:       "allowed",
			wantCode:   codes.OK,
			wantEvents: []string{StageAuth, "audit:caller=c1", "authorize:caller=c1", "ratelimit:caller=c1", "handler", "audit:OK"},
		},
		{
			name:       "authentication fails: nothing inner runs",
			setup:      func(tc *testChain) { tc.failAuth = true },
			wantCode:   codes.Unauthenticated,
			wantEvents: []string{StageAuth},
		},
		{
			name:       "authorization fails: audited, not rate limited",
			setup:      func(tc *testChain) { tc.failAuthz = true },
			wantCode:   codes.PermissionDenied,
			wantEvents: []string{StageAuth, "audit:caller=c1", "authorize:caller=c1", "audit:PermissionDenied"},
		},
		{
			name:       "rate limited: audited, with LimitError's status",
			setup:      func(tc *testChain) { tc.failLimit = true },
			wantCode:   codes.ResourceExhausted,
			wantEvents: []string{StageAuth, "audit:caller=c1", "authorize:caller=c1", "ratelimit:caller=c1", "audit:ResourceExhausted"},
		},
		{
			name:       "panic: recovered outermost",
			handler:    func(context.Context, any) (any, error) { panic("boom secret-ish text") },
			wantCode:   codes.Internal,
			wantEvents: []string{StageAuth, "audit:caller=c1", "authorize:caller=c1", "ratelimit:caller=c1", "handler"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tc := newTestChain(t)
			if tt.setup != nil {
				tt.setup(tc)
			}
			err := tc.callUnary(method, func(ctx context.Context, req any) (any, error) {
				tc.rec.add("handler")
				if tt.handler != nil {
					return tt.handler(ctx, req)
				}
				return struct{}{}, nil
			})
			if status.Code(err) != tt.wantCode {
				t.Fatalf("code %v (%v), want %v", status.Code(err), err, tt.wantCode)
			}
			if got := tc.rec.get(); !slices.Equal(got, tt.wantEvents) {
				t.Errorf("events %v, want %v", got, tt.wantEvents)
			}
			logs := tc.logs.String()
			if tt.wantCode == codes.Internal {
				// Recovery is outside logging: the panic is reported by the
				// recovery handler, with no panic text in the status.
				if !strings.Contains(logs, "panic in handler") || strings.Contains(status.Convert(err).Message(), "boom") {
					t.Errorf("panic: logs %s, status %v", logs, err)
				}
				return
			}
			// Logging and metrics are outside auth: they see every outcome,
			// and the request id (set outside logging) is on the line.
			if !strings.Contains(logs, `"grpc.code":"`+tt.wantCode.String()+`"`) || !strings.Contains(logs, `"request_id":"req-1"`) {
				t.Errorf("access log lacks the code %v or the request id: %s", tt.wantCode, logs)
			}
			if n := tc.handled(t, tt.wantCode); n != 1 {
				t.Errorf("grpc_server_handled_total{grpc_code=%q} = %v, want 1", tt.wantCode, n)
			}
		})
	}
}

func TestChainSkipsPublicServices(t *testing.T) {
	t.Parallel()
	tc := newTestChain(t)
	tc.failAuth = true
	for _, m := range []string{"/grpc.health.v1.Health/Check", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"} {
		if err := tc.callUnary(m, func(context.Context, any) (any, error) { tc.rec.add("handler"); return nil, nil }); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	if got := tc.rec.get(); !slices.Equal(got, []string{"handler", "handler"}) {
		t.Errorf("events %v: public services went through auth", got)
	}
}

func TestChainStreams(t *testing.T) {
	t.Parallel()
	tc := newTestChain(t)
	err := tc.callStream("/tokend.v1.TokenService/WatchKeys", func(any, grpc.ServerStream) error { tc.rec.add("handler"); return nil })
	if err != nil {
		t.Fatal(err)
	}
	// Streams are authenticated, authorized and limited; not audited.
	want := []string{StageAuth, "authorize:caller=c1", "ratelimit:caller=c1", "handler"}
	if got := tc.rec.get(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	tc.failLimit = true
	if err := tc.callStream("/tokend.v1.TokenService/WatchKeys", func(any, grpc.ServerStream) error { return nil }); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("limited stream: %v", err)
	}
}
