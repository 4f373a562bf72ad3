package limit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"

	"github.com/tokend/tokend/server/auth"
)

// ErrRateLimited is what every *LimitedError unwraps to.
var ErrRateLimited = errors.New("limit: rate limit exceeded")

// LimitedError is a refused call: the caller's bucket for the method's role
// is empty.
type LimitedError struct {
	// Role is the role class of the method (its bucket).
	Role string
	// RetryAfter is when the bucket holds a token again.
	RetryAfter time.Duration
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("limit: rate limit of role %q exceeded; retry in %s", e.Role, e.RetryAfter)
}

// Unwrap returns ErrRateLimited.
func (e *LimitedError) Unwrap() error { return ErrRateLimited }

// DefaultMaxBuckets bounds the number of buckets kept in memory.
const DefaultMaxBuckets = 10000

// Limiter keeps one token bucket per caller and per role class of the
// methods called (an admin calling IssueToken spends its "issuer" bucket),
// so one caller's flood never empties another caller's bucket. Rates are
// set per role; a role without a rate (or an unlimited one) is not limited.
// The number of buckets is bounded: full buckets (idle callers) are dropped
// first, then the least recently used.
type Limiter struct {
	rates      map[string]Rate
	now        func() time.Time
	maxBuckets int

	mu      sync.Mutex
	buckets map[bucketKey]*bucket
}

type bucketKey struct{ caller, role string }

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// Option configures New.
type Option func(*Limiter)

// WithClock injects the clock.
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// WithMaxBuckets bounds the number of buckets (default DefaultMaxBuckets).
func WithMaxBuckets(n int) Option { return func(l *Limiter) { l.maxBuckets = max(1, n) } }

// New returns a Limiter with a rate per role (auth.RoleAdmin, ...).
func New(rates map[string]Rate, opts ...Option) *Limiter {
	l := &Limiter{rates: map[string]Rate{}, now: time.Now, maxBuckets: DefaultMaxBuckets, buckets: map[bucketKey]*bucket{}}
	for role, r := range rates {
		if !r.Unlimited() {
			l.rates[role] = r
		}
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Enabled reports whether any role is limited.
func (l *Limiter) Enabled() bool { return len(l.rates) > 0 }

// Limit implements go-grpc-middleware's ratelimit.Limiter: it spends a
// token of the authenticated caller's bucket for the role of the called
// method. Calls without a caller or of a method without a role (refused
// earlier in the chain) are not limited here.
func (l *Limiter) Limit(ctx context.Context) error {
	c, ok := auth.CallerFrom(ctx)
	if !ok {
		return nil
	}
	method, _ := grpc.Method(ctx)
	role, ok := auth.MethodRole(method)
	if !ok {
		return nil
	}
	return l.Allow(c.ID, role)
}

// Allow spends a token of caller's bucket for role, or returns a
// *LimitedError saying when to retry.
func (l *Limiter) Allow(caller, role string) error {
	r, ok := l.rates[role]
	if !ok {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := bucketKey{caller: caller, role: role}
	b, ok := l.buckets[k]
	if !ok {
		l.makeRoom(now)
		b = &bucket{lim: rate.NewLimiter(rate.Limit(r.PerSecond), r.burst())}
		l.buckets[k] = b
	}
	b.used = now
	res := b.lim.ReserveN(now, 1)
	if !res.OK() {
		return &LimitedError{Role: role, RetryAfter: time.Second}
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return &LimitedError{Role: role, RetryAfter: d}
	}
	return nil
}

// Buckets returns the number of buckets held (for tests and metrics).
func (l *Limiter) Buckets() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// makeRoom drops buckets until one more fits: first the full ones (a full
// bucket behaves exactly like a new one), then the least recently used.
// Called with l.mu held.
func (l *Limiter) makeRoom(now time.Time) {
	if len(l.buckets) < l.maxBuckets {
		return
	}
	for k, b := range l.buckets {
		if b.lim.TokensAt(now) >= float64(b.lim.Burst()) {
			delete(l.buckets, k)
		}
	}
	for len(l.buckets) >= l.maxBuckets {
		var oldest bucketKey
		var at time.Time
		first := true
		for k, b := range l.buckets {
			if first || b.used.Before(at) {
				oldest, at, first = k, b.used, false
			}
		}
		delete(l.buckets, oldest)
	}
}
