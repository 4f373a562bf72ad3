package interceptor

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// BenchmarkAccessLog measures the chain (recovery, request id, default
// deadline, logging, auth) around a handler that does nothing, by access
// log mode, logging JSON to io.Discard at info.
func BenchmarkAccessLog(b *testing.B) {
	for _, mode := range []AccessLog{AccessLogAll, AccessLogErrors, AccessLogOff} {
		b.Run(string(mode), func(b *testing.B) {
			unary, _ := Chain(Options{
				Logger:    slog.New(slog.NewJSONHandler(io.Discard, nil)),
				AccessLog: mode, DefaultDeadline: 0,
				Auth: func(ctx context.Context) (context.Context, error) { return ctx, nil },
			})
			info := &grpc.UnaryServerInfo{FullMethod: "/tokend.v1.TokenService/ValidateToken"}
			var next grpc.UnaryHandler = func(context.Context, any) (any, error) { return nil, nil }
			for i := len(unary) - 1; i >= 0; i-- {
				ic, inner := unary[i], next
				next = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, inner) }
			}
			ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(RequestIDHeader, "req-1"))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = next(ctx, nil)
			}
		})
	}
}
