package interceptor

import (
	"context"
	"time"

	"google.golang.org/grpc"
)

// deadlineUnary gives a unary call without a deadline the default one d,
// so that no call can hold resources forever. Calls with a deadline keep
// theirs, also a longer one. Streams (a key watch) are left alone.
func deadlineUnary(d time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if _, ok := ctx.Deadline(); ok {
			return h(ctx, req)
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return h(ctx, req)
	}
}
