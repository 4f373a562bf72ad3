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
			final := func(context.Context, any) (any, error) { return nil, nil }
			chain := ChainUnary(unary...)
			ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(RequestIDHeader, "req-1"))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = chain(ctx, nil, info, final)
			}
		})
	}
}

// BenchmarkChaining measures chaining alone: ten links that only call
// their handler, chained by ChainUnary and the way grpc-go's
// ChainUnaryInterceptor does (a closure per link per call).
func BenchmarkChaining(b *testing.B) {
	pass := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return h(ctx, req)
	}
	links := make([]grpc.UnaryServerInterceptor, 10)
	for i := range links {
		links[i] = pass
	}
	info := &grpc.UnaryServerInfo{FullMethod: "/tokend.v1.TokenService/ValidateToken"}
	final := func(context.Context, any) (any, error) { return nil, nil }
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		chain grpc.UnaryServerInterceptor
	}{{"ChainUnary", ChainUnary(links...)}, {"grpc-go", grpcChain(links)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.chain(ctx, nil, info, final)
			}
		})
	}
}

// grpcChain chains as grpc-go's chainUnaryInterceptors does.
func grpcChain(links []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	var handler func(curr int, info *grpc.UnaryServerInfo, final grpc.UnaryHandler) grpc.UnaryHandler
	handler = func(curr int, info *grpc.UnaryServerInfo, final grpc.UnaryHandler) grpc.UnaryHandler {
		if curr == len(links)-1 {
			return final
		}
		return func(ctx context.Context, req any) (any, error) {
			return links[curr+1](ctx, req, info, handler(curr+1, info, final))
		}
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, final grpc.UnaryHandler) (any, error) {
		return links[0](ctx, req, info, handler(0, info, final))
	}
}
