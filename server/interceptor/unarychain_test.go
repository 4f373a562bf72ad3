package interceptor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc"
)

type chainKey struct{}

// linkRecorder returns a link that records entering and leaving, passes a
// context value on, and either calls the handler or answers itself.
func linkRecorder(name string, events *[]string, stop bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		*events = append(*events, "enter "+name)
		if stop {
			return nil, errors.New("stopped by " + name)
		}
		seen, _ := ctx.Value(chainKey{}).(string)
		resp, err := h(context.WithValue(ctx, chainKey{}, seen+name), req)
		*events = append(*events, "leave "+name)
		return resp, err
	}
}

// TestChainUnary: links run outermost first, each sees what the outer ones
// put in the context, the handler runs last, and a link that answers by
// itself ends the walk; the same interceptor serves call after call.
func TestChainUnary(t *testing.T) {
	for _, n := range []int{0, 1, 2, 5} {
		for stopAt := -1; stopAt < n; stopAt++ {
			t.Run(fmt.Sprintf("%d links, stop at %d", n, stopAt), func(t *testing.T) {
				var events []string
				var links []grpc.UnaryServerInterceptor
				for i := range n {
					links = append(links, linkRecorder(fmt.Sprint(i), &events, i == stopAt))
				}
				chain := ChainUnary(links...)
				info := &grpc.UnaryServerInfo{FullMethod: "/s/M"}
				for call := range 3 {
					events = events[:0]
					var got string
					resp, err := chain(context.Background(), "req", info, func(ctx context.Context, req any) (any, error) {
						events = append(events, "handler")
						got, _ = ctx.Value(chainKey{}).(string)
						return req.(string) + "-resp", nil
					})
					var want []string
					var path string
					for i := range n {
						want = append(want, fmt.Sprintf("enter %d", i))
						if i == stopAt {
							break
						}
						path += fmt.Sprint(i)
					}
					if stopAt < 0 {
						want = append(want, "handler")
					}
					for i := n - 1; i >= 0; i-- {
						if stopAt < 0 || i < stopAt {
							want = append(want, fmt.Sprintf("leave %d", i))
						}
					}
					if !slices.Equal(events, want) {
						t.Fatalf("call %d: events %q, want %q", call, events, want)
					}
					if stopAt >= 0 {
						if err == nil || resp != nil {
							t.Fatalf("call %d: %v, %v; want the stop error", call, resp, err)
						}
						continue
					}
					if err != nil || resp != "req-resp" || got != path {
						t.Fatalf("call %d: %v, %v, context %q; want req-resp, nil, %q", call, resp, err, got, path)
					}
				}
			})
		}
	}
}

// TestChainUnaryAllocs: one record per call, whatever the length.
func TestChainUnaryAllocs(t *testing.T) {
	pass := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return h(ctx, req)
	}
	chain := ChainUnary(slices.Repeat([]grpc.UnaryServerInterceptor{pass}, 10)...)
	info := &grpc.UnaryServerInfo{FullMethod: "/s/M"}
	final := func(context.Context, any) (any, error) { return nil, nil }
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _, _ = chain(ctx, nil, info, final) }); n > 2 {
		t.Errorf("%v allocations per call through 10 links, want at most 2", n)
	}
}
