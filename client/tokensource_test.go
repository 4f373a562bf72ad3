package client_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/servertest"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestTokenSourceOneRenewalPerWindow: 100 concurrent callers make exactly
// one token call per renewal window, and always get a token that is valid
// at the time they asked.
func TestTokenSourceOneRenewalPerWindow(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Now().Truncate(time.Second)}
	h := servertest.Start(t, servertest.WithClock(clk.Now))
	created, err := h.Admin.CreateApp(t.Context(), &tokendv1.CreateAppRequest{Name: "ts"})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	counter := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		calls.Add(1)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	c, err := client.New(h.Addr(), client.WithAPIKey(servertest.AdminKey), client.WithDialOptions(grpc.WithChainUnaryInterceptor(counter)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ts := c.TokenSource(&tokendv1.IssueTokenRequest{
		AppId: created.GetApp().GetAppId(), Subject: "svc", Ttl: durationpb.New(20 * time.Minute),
	}, client.WithTokenClock(clk.Now))

	const callers, windows = 100, 5
	seen := map[string]bool{}
	for w := range windows {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range callers {
			wg.Go(func() {
				tok, err := ts.Token()
				if err != nil {
					t.Errorf("window %d: Token: %v", w, err)
					return
				}
				if !tok.Expiry.After(clk.Now()) || tok.TokenType != "Bearer" {
					t.Errorf("window %d: token expires %s (now %s), type %q", w, tok.Expiry, clk.Now(), tok.TokenType)
				}
				mu.Lock()
				seen[tok.AccessToken] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		if got := calls.Load(); got != int64(w+1) {
			t.Fatalf("after window %d: %d token calls, want %d", w, got, w+1)
		}
		clk.Advance(17 * time.Minute) // past the renewal point (<= 16 min), before expiry (20 min)
	}
	if len(seen) != windows {
		t.Errorf("%d distinct tokens over %d windows, want one per window", len(seen), windows)
	}
}
