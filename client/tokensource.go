package client

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"math/big"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/protobuf/proto"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
)

// TokenSource is an oauth2.TokenSource of tokend access tokens for one app
// and subject. It caches the token and renews it before it expires (at
// about 80% of its lifetime, with jitter so that many processes do not renew
// at once): with its refresh token when it has one, by issuing a new token
// otherwise. Concurrent callers share one renewal; while it runs, callers
// keep getting the current token as long as it has not expired.
//
// Use it as gRPC per-RPC credentials with
// grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: ts}) from
// google.golang.org/grpc/credentials/oauth (over TLS).
type TokenSource struct {
	c       *Client
	req     *tokendv1.IssueTokenRequest
	now     func() time.Time
	renew   float64 // fraction of the lifetime after which to renew
	jitter  float64 // fraction of the lifetime of random earliness
	timeout time.Duration

	mu       sync.Mutex
	cur      *oauth2.Token
	renewAt  time.Time
	refresh  string
	idemKey  string // idempotency key of the refresh in progress, kept until it succeeds
	inflight *renewal
}

var _ oauth2.TokenSource = (*TokenSource)(nil)

type renewal struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

// TokenSourceOption configures a TokenSource.
type TokenSourceOption func(*TokenSource)

// WithTokenClock injects the clock (tests).
func WithTokenClock(now func() time.Time) TokenSourceOption {
	return func(s *TokenSource) { s.now = now }
}

// WithRenewAt sets when a token is renewed, as a fraction of its lifetime
// (default 0.8), and the jitter, a fraction of the lifetime by which the
// renewal may come earlier at random (default 0.05).
func WithRenewAt(fraction, jitter float64) TokenSourceOption {
	return func(s *TokenSource) { s.renew, s.jitter = fraction, jitter }
}

// TokenSource returns a TokenSource that issues tokens with req (app,
// subject, ttl, audience, claims). It always asks for a refresh token, so
// that its renewals stay in one refresh family.
func (c *Client) TokenSource(req *tokendv1.IssueTokenRequest, opts ...TokenSourceOption) *TokenSource {
	r := proto.Clone(req).(*tokendv1.IssueTokenRequest)
	r.IssueRefreshToken = true
	s := &TokenSource{c: c, req: r, now: time.Now, renew: 0.8, jitter: 0.05, timeout: 10 * time.Second}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Token returns a valid access token, renewing it when due.
func (s *TokenSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	now := s.now()
	if s.cur != nil && now.Before(s.renewAt) {
		t := s.cur
		s.mu.Unlock()
		return t, nil
	}
	if r := s.inflight; r != nil {
		if s.cur != nil && now.Before(s.cur.Expiry) {
			t := s.cur // still valid: do not wait for the renewal
			s.mu.Unlock()
			return t, nil
		}
		s.mu.Unlock()
		<-r.done
		return r.tok, r.err
	}
	r := &renewal{done: make(chan struct{})}
	s.inflight = r
	refresh := s.refresh
	if s.idemKey == "" {
		s.idemKey = newIdempotencyKey()
	}
	key := s.idemKey
	s.mu.Unlock()

	r.tok, r.err = s.fetch(refresh, key)

	s.mu.Lock()
	s.inflight = nil
	if r.err == nil {
		s.cur = r.tok
	}
	s.mu.Unlock()
	close(r.done)
	return r.tok, r.err
}

// fetch renews with the refresh token, or issues a new token when there is
// none or it no longer works. It runs outside the lock. The idempotency key
// stays the same until a renewal succeeds, so that a refresh whose answer
// was lost is retried safely (the server answers it again instead of
// treating it as reuse).
func (s *TokenSource) fetch(refresh, idemKey string) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if refresh != "" {
		resp, err := s.c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{
			RefreshToken: refresh, Ttl: s.req.GetTtl(), IdempotencyKey: idemKey,
		})
		if err == nil {
			return s.keep(resp.GetAccessToken(), resp.GetExpiresAt().AsTime(), resp.GetRefreshToken()), nil
		}
		var e *Error
		if !errors.As(err, &e) || e.Reason == "" || errors.Is(err, ErrStoreUnavailable) {
			return nil, err // transport trouble: issuing would fail too
		}
		// The refresh token is spent, expired or revoked: start anew.
	}
	resp, err := s.c.IssueToken(ctx, s.req)
	if err != nil {
		return nil, err
	}
	return s.keep(resp.GetAccessToken(), resp.GetExpiresAt().AsTime(), resp.GetRefreshToken()), nil
}

// keep records a new token and schedules its renewal.
func (s *TokenSource) keep(access string, exp time.Time, refresh string) *oauth2.Token {
	now := s.now()
	life := exp.Sub(now)
	early := time.Duration(float64(life) * s.jitter * randFraction())
	s.mu.Lock()
	s.renewAt = now.Add(time.Duration(float64(life)*s.renew) - early)
	s.refresh, s.idemKey = refresh, ""
	s.mu.Unlock()
	return &oauth2.Token{AccessToken: access, TokenType: "Bearer", Expiry: exp}
}

// randFraction returns a uniform number in [0, 1).
func randFraction() float64 {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<53))
	if err != nil {
		return 0.5
	}
	return float64(n.Int64()) / (1 << 53)
}

func newIdempotencyKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
