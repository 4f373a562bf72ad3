package interceptor

import (
	"context"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"google.golang.org/grpc"
)

// The middleware's ratelimit interceptor flattens the limiter's error into
// a RESOURCE_EXHAUSTED status without details. To keep the middleware and
// still answer with an ErrorInfo and a retry delay, the limiter is wrapped
// so that it records its refusal in a holder put in the context, and the
// middleware's error is replaced by LimitError of the recorded error.

type refusalKey struct{}

type refusal struct{ err error }

type recordingLimiter struct{ l ratelimit.Limiter }

func (r recordingLimiter) Limit(ctx context.Context) error {
	err := r.l.Limit(ctx)
	if h, ok := ctx.Value(refusalKey{}).(*refusal); ok {
		h.err = err
	}
	return err
}

func limitUnary(l ratelimit.Limiter, toStatus func(context.Context, error) error) grpc.UnaryServerInterceptor {
	mw := ratelimit.UnaryServerInterceptor(recordingLimiter{l})
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		ref := &refusal{}
		resp, err := mw(context.WithValue(ctx, refusalKey{}, ref), req, info, h)
		if ref.err != nil && toStatus != nil {
			return nil, toStatus(ctx, ref.err)
		}
		return resp, err
	}
}

func limitStream(l ratelimit.Limiter, toStatus func(context.Context, error) error) grpc.StreamServerInterceptor {
	mw := ratelimit.StreamServerInterceptor(recordingLimiter{l})
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ref := &refusal{}
		ctx := context.WithValue(ss.Context(), refusalKey{}, ref)
		err := mw(srv, &wrappedStream{ServerStream: ss, ctx: ctx}, info, h)
		if ref.err != nil && toStatus != nil {
			return toStatus(ss.Context(), ref.err)
		}
		return err
	}
}
