package interceptor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	grpcauth "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Options configure the chain.
type Options struct {
	// Logger receives one access line per RPC and panic reports.
	Logger *slog.Logger
	// Auth authenticates a call; its error must already be a status error.
	Auth grpcauth.AuthFunc
	// PanicError is the status error a recovered panic becomes.
	PanicError func(ctx context.Context) error
	// Metrics, when set, records per-method counters and latency.
	Metrics *grpcprom.ServerMetrics
	// Limiter, when set, is consulted after authentication.
	Limiter ratelimit.Limiter
}

// PublicService reports whether a full method name belongs to a service
// that needs no credential: gRPC health and server reflection.
func PublicService(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.v1.ServerReflection/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.v1alpha.ServerReflection/")
}

var needsAuth = selector.MatchFunc(func(_ context.Context, m interceptors.CallMeta) bool {
	return !PublicService(m.FullMethod())
})

// Chain returns the unary and stream interceptors, outermost first.
func Chain(o Options) ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	rec := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		o.Logger.ErrorContext(ctx, "panic in handler", slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
		return o.PanicError(ctx)
	})
	logger := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		o.Logger.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall)}

	unary := []grpc.UnaryServerInterceptor{
		recovery.UnaryServerInterceptor(rec),
		requestIDUnary,
		logging.UnaryServerInterceptor(logger, logOpts...),
	}
	stream := []grpc.StreamServerInterceptor{
		recovery.StreamServerInterceptor(rec),
		requestIDStream,
		logging.StreamServerInterceptor(logger, logOpts...),
	}
	if o.Metrics != nil {
		unary = append(unary, o.Metrics.UnaryServerInterceptor())
		stream = append(stream, o.Metrics.StreamServerInterceptor())
	}
	unary = append(unary, selector.UnaryServerInterceptor(grpcauth.UnaryServerInterceptor(o.Auth), needsAuth))
	stream = append(stream, selector.StreamServerInterceptor(grpcauth.StreamServerInterceptor(o.Auth), needsAuth))
	if o.Limiter != nil {
		unary = append(unary, selector.UnaryServerInterceptor(ratelimit.UnaryServerInterceptor(o.Limiter), needsAuth))
		stream = append(stream, selector.StreamServerInterceptor(ratelimit.StreamServerInterceptor(o.Limiter), needsAuth))
	}
	return unary, stream
}

// RequestIDHeader is the metadata key of the request id: taken from the
// call when present (and sane), made up otherwise, and logged on every line.
const RequestIDHeader = "x-request-id"

func requestID(ctx context.Context) context.Context {
	id := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(RequestIDHeader); len(v) == 1 && saneID(v[0]) {
			id = v[0]
		}
	}
	if id == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	return logging.InjectLogField(ctx, "request_id", id)
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
