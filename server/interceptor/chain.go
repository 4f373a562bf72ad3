package interceptor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	grpcauth "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Options configure the chain.
type Options struct {
	// Logger receives one access line per RPC and panic reports. The
	// request id is added to its lines (LogHandler).
	Logger *slog.Logger
	// AccessLog says which calls get an access line ("" is AccessLogAll).
	AccessLog AccessLog
	// DefaultDeadline, when positive, is the deadline of a unary call
	// whose caller set none.
	DefaultDeadline time.Duration
	// Auth authenticates a call; its error must already be a status error.
	Auth grpcauth.AuthFunc
	// Authorize, when set, checks after authentication that the caller may
	// call the method at all (the method -> role table); its error must
	// already be a status error.
	Authorize func(ctx context.Context, fullMethod string) error
	// Audit, when set, runs after authentication and before authorization
	// on unary calls, so that it sees the caller and every outcome,
	// refusals included.
	Audit grpc.UnaryServerInterceptor
	// PanicError is the status error a recovered panic becomes.
	PanicError func(ctx context.Context) error
	// Metrics, when set, records per-method counters and latency
	// (metrics.GRPCServer).
	Metrics Metrics
	// Limiter, when set, is consulted last, after authorization.
	Limiter ratelimit.Limiter
	// LimitError turns the Limiter's error into the status error the
	// client sees (with its retry delay); the middleware's own error has no
	// details. Required with Limiter.
	LimitError func(ctx context.Context, err error) error
}

// Metrics gives the metrics link of the chain.
type Metrics interface {
	UnaryServerInterceptor() grpc.UnaryServerInterceptor
	StreamServerInterceptor() grpc.StreamServerInterceptor
}

// PublicService reports whether a full method name belongs to a service
// that needs no credential: gRPC health and server reflection.
func PublicService(fullMethod string) bool {
	service, _, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	return publicServiceName(service)
}

// publicServiceName is PublicService by the service's name alone.
func publicServiceName(service string) bool {
	switch service {
	case "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection":
		return true
	}
	return false
}

// needsAuth matches by the service name: CallMeta.FullMethod would
// format the name again on every call.
var needsAuth = selector.MatchFunc(func(_ context.Context, m interceptors.CallMeta) bool {
	return !publicServiceName(m.Service)
})

// Stage names, outermost first.
const (
	StageRecovery  = "recovery"
	StageRequestID = "request-id"
	StageDeadline  = "deadline"
	StageLogging   = "logging"
	StageMetrics   = "metrics"
	StageAuth      = "auth"
	StageAudit     = "audit"
	StageAuthorize = "authorize"
	StageRateLimit = "ratelimit"
)

// stage is one link of the chain. A nil unary or stream interceptor skips
// that kind of call.
type stage struct {
	name   string
	unary  grpc.UnaryServerInterceptor
	stream grpc.StreamServerInterceptor
}

// stages returns the chain, outermost first.
func stages(o Options) []stage {
	rec := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		o.Logger.ErrorContext(ctx, "panic in handler", slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
		return o.PanicError(ctx)
	})
	out := []stage{
		{StageRecovery, recovery.UnaryServerInterceptor(rec), recovery.StreamServerInterceptor(rec)},
		{StageRequestID, requestIDUnary, requestIDStream},
	}
	if o.DefaultDeadline > 0 {
		out = append(out, stage{StageDeadline, deadlineUnary(o.DefaultDeadline), nil})
	}
	if s, ok := accessLogStage(slog.New(LogHandler(o.Logger.Handler())), o.AccessLog); ok {
		out = append(out, s)
	}
	if o.Metrics != nil {
		out = append(out, stage{StageMetrics, o.Metrics.UnaryServerInterceptor(), o.Metrics.StreamServerInterceptor()})
	}
	out = append(out, stage{StageAuth,
		selector.UnaryServerInterceptor(grpcauth.UnaryServerInterceptor(o.Auth), needsAuth),
		selector.StreamServerInterceptor(grpcauth.StreamServerInterceptor(o.Auth), needsAuth)})
	if o.Audit != nil {
		out = append(out, stage{StageAudit, selector.UnaryServerInterceptor(o.Audit, needsAuth), nil})
	}
	if o.Authorize != nil {
		out = append(out, stage{StageAuthorize,
			selector.UnaryServerInterceptor(authorizeUnary(o.Authorize), needsAuth),
			selector.StreamServerInterceptor(authorizeStream(o.Authorize), needsAuth)})
	}
	if o.Limiter != nil {
		out = append(out, stage{StageRateLimit,
			selector.UnaryServerInterceptor(limitUnary(o.Limiter, o.LimitError), needsAuth),
			selector.StreamServerInterceptor(limitStream(o.Limiter, o.LimitError), needsAuth)})
	}
	return out
}

// Chain returns the unary and stream interceptors, outermost first:
// recovery, request id, default deadline, logging, metrics, auth, audit,
// authorize, rate limit (the optional ones only when configured).
func Chain(o Options) ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	var unary []grpc.UnaryServerInterceptor
	var stream []grpc.StreamServerInterceptor
	for _, s := range stages(o) {
		if s.unary != nil {
			unary = append(unary, s.unary)
		}
		if s.stream != nil {
			stream = append(stream, s.stream)
		}
	}
	return unary, stream
}

func authorizeUnary(authorize func(context.Context, string) error) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if err := authorize(ctx, info.FullMethod); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

func authorizeStream(authorize func(context.Context, string) error) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if err := authorize(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return h(srv, ss)
	}
}

// RequestIDHeader is the metadata key of the request id: taken from the
// call when present (and sane), made up otherwise, and logged on every line
// of the call (see LogHandler).
const RequestIDHeader = "x-request-id"

func requestID(ctx context.Context) context.Context {
	id := ""
	if v := metadata.ValueFromIncomingContext(ctx, RequestIDHeader); len(v) == 1 && saneID(v[0]) {
		id = v[0]
	}
	if id == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

func saneID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return true
}

func requestIDUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(requestID(ctx), req)
}

func requestIDStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, &wrappedStream{ServerStream: ss, ctx: requestID(ss.Context())})
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w *wrappedStream) Context() context.Context { return w.ctx }
