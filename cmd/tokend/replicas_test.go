package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/storage/postgres/pgtest"
)

// propagationBound is how soon a change made on one replica must be seen
// by the others (issue 6).
const propagationBound = time.Second

const replicaAdminKey = "tkd_replicas-test-admin-key-0123456789"

// replica is a "tokend serve" process on the shared PostgreSQL database,
// with a client.
type replica struct {
	*daemon
	name string
	c    *client.Client
}

// startReplicas starts n tokend processes on one new PostgreSQL schema.
// They learn of each other's changes by notification only: the key
// maintainer and the full resync run hourly, the caller reload never, so
// a change seen within a second came through LISTEN/NOTIFY.
func startReplicas(t *testing.T, n int) []*replica {
	t.Helper()
	dsn := pgtest.DSN(t)
	kek := base64.StdEncoding.EncodeToString([]byte("replicas-test-kek-0123456789abcd"))
	env := []string{"TOKEND_STORE=" + dsn, "TOKEND_KEK=" + kek, "TOKEND_ADMIN_KEY=" + replicaAdminKey,
		"TOKEND_KEY_CHECK_INTERVAL=1h", "TOKEND_CALLER_RELOAD_INTERVAL=0", "TOKEND_RESYNC_INTERVAL=1h",
		"TOKEND_ACCESS_LOG=errors"}
	rs := make([]*replica, n)
	for i := range rs {
		d := startDaemon(t, t.TempDir(), env...)
		rs[i] = &replica{daemon: d, name: string(rune('A' + i)), c: dialReplica(t, d.addr, replicaAdminKey)}
	}
	return rs
}

// dialReplica returns a client without retries: a call to a killed
// replica fails at once, and the test decides what to do.
func dialReplica(t *testing.T, addr, apiKey string) *client.Client {
	t.Helper()
	c, err := client.New(addr, client.WithAPIKey(apiKey), client.WithRetries(0), client.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// seenWithin calls f every 2ms until it returns nil and fails the test
// when that takes longer than propagationBound.
func seenWithin(t *testing.T, what string, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := f()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > propagationBound {
			t.Fatalf("%s: not within %v: %v", what, propagationBound, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// answers returns a check that r answers token with reason (UNSPECIFIED:
// valid).
func answers(r *replica, token string, reason tokendv1.InvalidReason) func() error {
	return func() error {
		v, err := r.c.ValidateToken(context.Background(), &tokendv1.ValidateTokenRequest{Token: token})
		switch {
		case err != nil:
			return err
		case v.GetReason() != reason || v.GetValid() != (reason == tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED):
			return fmt.Errorf("replica %s: valid=%v reason %s, want %s", r.name, v.GetValid(), v.GetReason(), reason)
		}
		return nil
	}
}

const valid = tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED

func revokeTokenID(appID, jti string) *tokendv1.RevokeTokenRequest {
	return &tokendv1.RevokeTokenRequest{AppId: appID, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: jti}}
}

// TestReplicas runs three tokend processes on one PostgreSQL database, as
// replicas behind a load balancer, and checks that they behave as one:
// what one issues the others validate, and every change made on one
// (revocation, reuse, key rotation and revocation, app disable, caller
// deletion) is seen by the others within a second. The last subtest
// kills one replica with SIGKILL under load.
func TestReplicas(t *testing.T) {
	pgtest.BaseDSN(t)
	rs := startReplicas(t, 3)
	a, b, c := rs[0], rs[1], rs[2]
	ctx := t.Context()
	created, err := a.c.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "replicated", Algorithm: "ES256"})
	if err != nil {
		t.Fatalf("CreateApp on A: %v", err)
	}
	appID := created.GetApp().GetAppId()
	issue := func(r *replica, subject string, refresh bool) *tokendv1.IssueTokenResponse {
		t.Helper()
		resp, err := r.c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: subject, IssueRefreshToken: refresh})
		if err != nil {
			t.Fatalf("IssueToken on %s: %v", r.name, err)
		}
		return resp
	}

	t.Run("app of A is known to B and C", func(t *testing.T) {
		for _, r := range []*replica{b, c} {
			d := seenWithin(t, "IssueToken on "+r.name, func() error {
				_, err := r.c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s"})
				return err
			})
			t.Logf("the app created on A signs on %s after %v", r.name, d)
		}
	})

	t.Run("token issued on A validates on B and C", func(t *testing.T) {
		tok := issue(a, "alice", false)
		for _, r := range []*replica{b, c} {
			if err := answers(r, tok.GetAccessToken(), valid)(); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("refresh rotated on A and replayed on B is reuse", func(t *testing.T) {
		first := issue(a, "bob", true)
		rotated, err := a.c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: first.GetRefreshToken()})
		if err != nil {
			t.Fatalf("RefreshToken on A: %v", err)
		}
		_, err = b.c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: first.GetRefreshToken()})
		if !errors.Is(err, client.ErrRefreshReused) {
			t.Fatalf("replay on B of a refresh token rotated on A: %v, want REFRESH_TOKEN_REUSED", err)
		}
		// Reuse revoked the family everywhere: its newest refresh token,
		// and the access tokens issued from it on A.
		_, err = c.c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: rotated.GetRefreshToken()})
		if !errors.Is(err, client.ErrRefreshRevoked) && !errors.Is(err, client.ErrRefreshReused) {
			t.Errorf("the family's newest refresh token on C: %v, want it refused", err)
		}
		for _, r := range rs {
			for _, tok := range []string{first.GetAccessToken(), rotated.GetAccessToken()} {
				seenWithin(t, "access token of the reused family on "+r.name,
					answers(r, tok, tokendv1.InvalidReason_INVALID_REASON_REVOKED))
			}
		}
	})

	t.Run("revocation on A is refused by B and C", func(t *testing.T) {
		byID, bySubject := issue(a, "carol", false), issue(b, "dave", false)
		if _, err := a.c.RevokeToken(ctx, revokeTokenID(appID, byID.GetTokenId())); err != nil {
			t.Fatalf("RevokeToken on A: %v", err)
		}
		if _, err := a.c.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appID, Target: &tokendv1.RevokeTokenRequest_Subject{Subject: "dave"}}); err != nil {
			t.Fatalf("RevokeToken (subject) on A: %v", err)
		}
		for _, r := range []*replica{b, c} {
			seenWithin(t, "token id revoked on A, on "+r.name, answers(r, byID.GetAccessToken(), tokendv1.InvalidReason_INVALID_REASON_REVOKED))
			seenWithin(t, "subject revoked on A, on "+r.name, answers(r, bySubject.GetAccessToken(), tokendv1.InvalidReason_INVALID_REASON_REVOKED))
		}
	})

	var oldKeyToken, newKID string
	t.Run("key rotated on A signs on B", func(t *testing.T) {
		oldKeyToken = issue(b, "erin", false).GetAccessToken()
		rot, err := a.c.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: appID, ActivationDelay: durationpb.New(0)})
		if err != nil {
			t.Fatalf("RotateAppKey on A: %v", err)
		}
		newKID = rot.GetKey().GetKeyId()
		onA := issue(a, "erin", false)
		if onA.GetKeyId() != newKID {
			t.Fatalf("A signs with %s after rotating to %s", onA.GetKeyId(), newKID)
		}
		for _, r := range []*replica{b, c} {
			seenWithin(t, "new key signs on "+r.name, func() error {
				got := issue(r, "erin", false).GetKeyId()
				if got != newKID {
					return fmt.Errorf("replica %s signs with %s, want %s", r.name, got, newKID)
				}
				return nil
			})
			if err := answers(r, onA.GetAccessToken(), valid)(); err != nil {
				t.Errorf("token of the new key: %v", err)
			}
			if err := answers(r, oldKeyToken, valid)(); err != nil {
				t.Errorf("token of the old (verify-only) key: %v", err)
			}
		}
	})

	t.Run("key revoked on A is refused by B and C", func(t *testing.T) {
		oldKID := created.GetKey().GetKeyId()
		if _, err := a.c.RevokeAppKey(ctx, &tokendv1.RevokeAppKeyRequest{AppId: appID, KeyId: oldKID, Reason: "test"}); err != nil {
			t.Fatalf("RevokeAppKey on A: %v", err)
		}
		for _, r := range []*replica{b, c} {
			seenWithin(t, "revoked key on "+r.name, answers(r, oldKeyToken, tokendv1.InvalidReason_INVALID_REASON_UNKNOWN_KEY))
		}
	})

	t.Run("caller deleted on A is refused by B and C", func(t *testing.T) {
		cc, err := a.c.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: "gateway", Roles: []string{"validator"}})
		if err != nil {
			t.Fatalf("CreateCaller on A: %v", err)
		}
		tok := issue(a, "frank", false).GetAccessToken()
		clients := map[*replica]*client.Client{}
		for _, r := range []*replica{b, c} {
			clients[r] = dialReplica(t, r.addr, cc.GetApiKey())
			seenWithin(t, "new caller on "+r.name, func() error {
				_, err := clients[r].ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: tok})
				return err
			})
		}
		if _, err := a.c.DeleteCaller(ctx, &tokendv1.DeleteCallerRequest{CallerId: cc.GetCaller().GetCallerId()}); err != nil {
			t.Fatalf("DeleteCaller on A: %v", err)
		}
		for _, r := range []*replica{b, c} {
			seenWithin(t, "deleted caller on "+r.name, func() error {
				_, err := clients[r].ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: tok})
				if !errors.Is(err, client.ErrCredentialsInvalid) {
					return fmt.Errorf("replica %s: %v, want CREDENTIALS_INVALID", r.name, err)
				}
				return nil
			})
		}
	})

	t.Run("revocation propagation", func(t *testing.T) {
		measurePropagation(t, a, b, appID)
	})

	// Last: app disable (the app stops issuing), then a replica killed.
	t.Run("app disabled on A is refused by B and C", func(t *testing.T) {
		tok := issue(c, "gina", false).GetAccessToken()
		if _, err := a.c.UpdateApp(ctx, &tokendv1.UpdateAppRequest{AppId: appID, Enabled: new(false)}); err != nil {
			t.Fatalf("UpdateApp on A: %v", err)
		}
		for _, r := range []*replica{b, c} {
			seenWithin(t, "disabled app on "+r.name, answers(r, tok, tokendv1.InvalidReason_INVALID_REASON_APP_DISABLED))
			_, err := r.c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s"})
			if !errors.Is(err, client.ErrAppDisabled) {
				t.Errorf("IssueToken on %s for the disabled app: %v, want APP_DISABLED", r.name, err)
			}
		}
	})

	t.Run("replica killed under load", func(t *testing.T) {
		killUnderLoad(t, rs)
	})
}

// measurePropagation revokes 100 tokens on a, one after the other, and
// polls b after each until it refuses the token: the time from the
// RevokeToken call on a to b's refusal, p50 and p99.
func measurePropagation(t *testing.T, a, b *replica, appID string) {
	ctx := t.Context()
	const n = 100
	tokens := make([]*tokendv1.IssueTokenResponse, n)
	for i := range tokens {
		resp, err := a.c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: fmt.Sprintf("p%d", i)})
		if err != nil {
			t.Fatalf("IssueToken: %v", err)
		}
		tokens[i] = resp
	}
	seenWithin(t, "A's token on B", answers(b, tokens[0].GetAccessToken(), valid))
	var fromCall, fromAck []time.Duration
	for _, tok := range tokens {
		if err := answers(b, tok.GetAccessToken(), valid)(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := a.c.RevokeToken(ctx, revokeTokenID(appID, tok.GetTokenId())); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		acked := time.Now()
		for {
			v, err := b.c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: tok.GetAccessToken()})
			if err != nil {
				t.Fatalf("ValidateToken on B: %v", err)
			}
			if v.GetReason() == tokendv1.InvalidReason_INVALID_REASON_REVOKED {
				break
			}
			if time.Since(start) > propagationBound {
				t.Fatalf("B still accepts a token revoked on A %v ago", time.Since(start))
			}
		}
		fromCall, fromAck = append(fromCall, time.Since(start)), append(fromAck, time.Since(acked))
	}
	p := func(ds []time.Duration, q float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[int(q*float64(len(s)-1)+0.5)].Round(10 * time.Microsecond)
	}
	t.Logf("revocation propagation A -> B over %d revocations: from the RevokeToken call: p50 %v, p99 %v, max %v; "+
		"after A's answer: p50 %v, p99 %v, max %v",
		n, p(fromCall, 0.5), p(fromCall, 0.99), p(fromCall, 1), p(fromAck, 0.5), p(fromAck, 0.99), p(fromAck, 1))
	if p99 := p(fromCall, 0.99); p99 > propagationBound {
		t.Errorf("p99 revocation propagation %v, want at most %v", p99, propagationBound)
	}
}

// family is a refresh family as its client knows it: the refresh token
// it got back last.
type family struct {
	refresh string
}

// loadState is what the clients of killUnderLoad were acknowledged.
type loadState struct {
	mu       sync.Mutex
	tokens   []string // access tokens
	families []*family
}

func (s *loadState) addToken(tok string) {
	s.mu.Lock()
	s.tokens = append(s.tokens, tok)
	s.mu.Unlock()
}

func (s *loadState) randomToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokens) == 0 {
		return ""
	}
	return s.tokens[mrand.IntN(len(s.tokens))]
}

// killUnderLoad runs clients issuing, refreshing and validating on every
// replica for a bounded time, kills the last replica with SIGKILL in the
// middle, and checks that the others kept serving and that nothing they
// acknowledged was lost: every access token a client got validates on the
// survivors, and every refresh token a client got last still refreshes.
// A client whose call to the killed replica failed moves to a survivor (as
// behind a load balancer); a refresh whose answer it lost is retried there
// with the same idempotency key, which yields the first answer if the
// rotation committed and a rotation otherwise, never reuse.
func killUnderLoad(t *testing.T, rs []*replica) {
	ctx := t.Context()
	created, err := rs[0].c.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "load", Algorithm: "EdDSA"})
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	appID := created.GetApp().GetAppId()
	for _, r := range rs[1:] {
		seenWithin(t, "load app on "+r.name, func() error {
			_, err := r.c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s"})
			return err
		})
	}
	const (
		workers  = 6
		duration = 2 * time.Second
		killAt   = 800 * time.Millisecond
	)
	victim := len(rs) - 1
	var (
		killed      atomic.Bool
		state       loadState
		afterKill   [3]atomic.Int64 // successful calls per replica after the kill
		errMu       sync.Mutex
		errs        []error
		lostAnswers atomic.Int64 // calls to the victim whose outcome the client never learnt
	)
	fail := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	stop := time.Now().Add(duration)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			at := w % len(rs)
			// call runs f on the worker's replica. When that is the killed
			// replica and the call fails, the client never learns whether
			// it took effect: call moves to a survivor and reports lost.
			// Any other failure is an error of the test.
			call := func(what string, f func(*client.Client) error) (ok, lost bool) {
				err := f(rs[at].c)
				switch {
				case err == nil:
					if killed.Load() {
						afterKill[at].Add(1)
					}
					return true, false
				case at == victim && killed.Load():
					lostAnswers.Add(1)
					at = w % victim
					return false, true
				}
				fail(fmt.Errorf("worker %d: %s on %s: %w", w, what, rs[at].name, err))
				return false, false
			}
			for i := 0; time.Now().Before(stop); i++ {
				var issued *tokendv1.IssueTokenResponse
				ok, _ := call("IssueToken", func(c *client.Client) (err error) {
					issued, err = c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: fmt.Sprintf("w%d-%d", w, i), IssueRefreshToken: true})
					return err
				})
				if !ok {
					continue // an issue whose answer was lost acknowledged nothing
				}
				state.addToken(issued.GetAccessToken())
				f := &family{refresh: issued.GetRefreshToken()}
				for range 2 {
					req := &tokendv1.RefreshTokenRequest{RefreshToken: f.refresh, IdempotencyKey: rand.Text()}
					var rotated *tokendv1.RefreshTokenResponse
					refresh := func(c *client.Client) (err error) {
						rotated, err = c.RefreshToken(ctx, req)
						return err
					}
					ok, lost := call("RefreshToken", refresh)
					if lost { // the same request again, on a survivor
						ok, _ = call("RefreshToken retried with its idempotency key", refresh)
					}
					if !ok {
						break
					}
					state.addToken(rotated.GetAccessToken())
					f.refresh = rotated.GetRefreshToken()
				}
				state.mu.Lock()
				state.families = append(state.families, f)
				state.mu.Unlock()
				if tok := state.randomToken(); tok != "" {
					call("ValidateToken", func(c *client.Client) error {
						v, err := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: tok})
						if err == nil && !v.GetValid() {
							fail(fmt.Errorf("worker %d: an acknowledged token answers %s", w, v.GetReason()))
						}
						return err
					})
				}
			}
		})
	}
	time.Sleep(killAt)
	killed.Store(true)
	rs[victim].kill(t)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		return
	}
	for i, r := range rs[:victim] {
		if afterKill[i].Load() == 0 {
			t.Errorf("replica %s answered nothing after the kill", r.name)
		}
	}

	// Nothing acknowledged is lost, on either survivor.
	var check sync.WaitGroup
	for g := range workers {
		check.Go(func() {
			for i := g; i < len(state.tokens); i += workers {
				if err := answers(rs[i%victim], state.tokens[i], valid)(); err != nil {
					t.Errorf("acknowledged access token %d: %v", i, err)
				}
			}
			for i := g; i < len(state.families); i += workers {
				r := rs[i%victim]
				if _, err := r.c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: state.families[i].refresh}); err != nil {
					t.Errorf("the last refresh token of family %d on %s: %v", i, r.name, err)
				}
			}
		})
	}
	check.Wait()
	t.Logf("under load: %d access tokens and %d refresh families acknowledged, %d calls to the killed replica lost their answer; "+
		"after the kill A answered %d calls, B %d", len(state.tokens), len(state.families), lostAnswers.Load(),
		afterKill[0].Load(), afterKill[1].Load())
}
