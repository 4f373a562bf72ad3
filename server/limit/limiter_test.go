package limit_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/limit"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newClock() *clock { return &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestLimiterTripsAndRecovers(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := limit.New(map[string]limit.Rate{auth.RoleIssuer: {PerSecond: 10, Burst: 3}}, limit.WithClock(clk.Now))
	for i := range 3 {
		if err := l.Allow("c1", auth.RoleIssuer); err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
	}
	err := l.Allow("c1", auth.RoleIssuer)
	var le *limit.LimitedError
	if !errors.As(err, &le) || !errors.Is(err, limit.ErrRateLimited) {
		t.Fatalf("call over the burst: %v, want a *LimitedError", err)
	}
	if le.RetryAfter != 100*time.Millisecond || le.Role != auth.RoleIssuer {
		t.Errorf("LimitedError %+v, want a retry after 100ms for role issuer", le)
	}
	// A refused call does not spend a token: after the retry delay, one
	// call passes, and the next is refused again.
	clk.Advance(le.RetryAfter)
	if err := l.Allow("c1", auth.RoleIssuer); err != nil {
		t.Errorf("after the retry delay: %v", err)
	}
	if err := l.Allow("c1", auth.RoleIssuer); !errors.Is(err, limit.ErrRateLimited) {
		t.Errorf("right after: %v, want ErrRateLimited", err)
	}
	// A full refill restores the whole burst.
	clk.Advance(time.Second)
	for i := range 3 {
		if err := l.Allow("c1", auth.RoleIssuer); err != nil {
			t.Errorf("call %d after a refill: %v", i, err)
		}
	}
}

func TestLimiterIsolation(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := limit.New(map[string]limit.Rate{
		auth.RoleIssuer: {PerSecond: 1, Burst: 1},
		auth.RoleAdmin:  {PerSecond: 1, Burst: 1},
	}, limit.WithClock(clk.Now))
	if err := l.Allow("flooder", auth.RoleIssuer); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if err := l.Allow("flooder", auth.RoleIssuer); !errors.Is(err, limit.ErrRateLimited) {
			t.Fatalf("flood: %v, want ErrRateLimited", err)
		}
	}
	if err := l.Allow("other", auth.RoleIssuer); err != nil {
		t.Errorf("another caller during the flood: %v", err)
	}
	if err := l.Allow("flooder", auth.RoleAdmin); err != nil {
		t.Errorf("the flooder's admin bucket: %v", err)
	}
	for range 100 {
		if err := l.Allow("flooder", auth.RoleValidator); err != nil {
			t.Fatalf("unlimited role: %v", err)
		}
	}
}

func TestLimiterBoundedBuckets(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := limit.New(map[string]limit.Rate{auth.RoleIssuer: {PerSecond: 1, Burst: 2}},
		limit.WithClock(clk.Now), limit.WithMaxBuckets(10))
	for i := range 50 {
		clk.Advance(time.Millisecond)
		if err := l.Allow(fmt.Sprintf("c%d", i), auth.RoleIssuer); err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		if n := l.Buckets(); n > 10 {
			t.Fatalf("%d buckets after caller %d, want at most 10", n, i)
		}
	}
	// The most recent caller kept its (half-spent) bucket.
	if err := l.Allow("c49", auth.RoleIssuer); err != nil {
		t.Errorf("second call of the latest caller: %v", err)
	}
	if err := l.Allow("c49", auth.RoleIssuer); !errors.Is(err, limit.ErrRateLimited) {
		t.Errorf("third call of the latest caller: %v, want ErrRateLimited", err)
	}
}

func TestLimitWithoutCaller(t *testing.T) {
	t.Parallel()
	l := limit.New(map[string]limit.Rate{auth.RoleIssuer: {PerSecond: 1, Burst: 1}})
	for range 3 {
		if err := l.Limit(t.Context()); err != nil {
			t.Fatalf("Limit without a caller: %v", err)
		}
	}
	if limit.New(nil).Enabled() || limit.New(map[string]limit.Rate{auth.RoleIssuer: {}}).Enabled() {
		t.Error("a limiter without rates is enabled")
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want limit.Rate
		ok   bool
	}{
		{"200/s", limit.Rate{PerSecond: 200, Burst: 200}, true},
		{"200/s,burst=400", limit.Rate{PerSecond: 200, Burst: 400}, true},
		{" 120/m , burst = 5 ", limit.Rate{PerSecond: 2, Burst: 5}, true},
		{"3600/h", limit.Rate{PerSecond: 1, Burst: 1}, true},
		{"0.5/s", limit.Rate{PerSecond: 0.5, Burst: 1}, true},
		{"1/m", limit.Rate{PerSecond: 1.0 / 60, Burst: 1}, true},
		{"2.5/s ", limit.Rate{PerSecond: 2.5, Burst: 3}, true},
		{"unlimited", limit.Rate{}, true},
		{"off", limit.Rate{}, true},
		{"0", limit.Rate{}, true},
		{"200", limit.Rate{}, false},
		{"200/d", limit.Rate{}, false},
		{"-1/s", limit.Rate{}, false},
		{"x/s", limit.Rate{}, false},
		{"200/s,burst=0", limit.Rate{}, false},
		{"200/s,bust=3", limit.Rate{}, false},
		{"NaN/s", limit.Rate{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := limit.ParseRate(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseRate(%q) = %+v, %v; want %+v, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
			if tt.ok {
				back, err := limit.ParseRate(got.String())
				if err != nil || back != got {
					t.Errorf("ParseRate(%q.String() = %q) = %+v, %v", tt.in, got.String(), back, err)
				}
			}
		})
	}
}

func BenchmarkAllow(b *testing.B) {
	l := limit.New(map[string]limit.Rate{auth.RoleIssuer: {PerSecond: 1e9, Burst: 1e9}})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Allow("c1", auth.RoleIssuer); err != nil {
				b.Fatal(err)
			}
		}
	})
}
