package server_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/servertest"
)

// stepClock is a server clock that tests move by hand.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func newStepClock() *stepClock {
	return &stepClock{now: time.Now().UTC().Truncate(time.Second)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// refreshEnv is a server with a hand-moved clock and one app.
type refreshEnv struct {
	h     *servertest.Harness
	clock *stepClock
	appID string
}

func startRefreshEnv(t *testing.T, opts ...servertest.Option) refreshEnv {
	t.Helper()
	clk := newStepClock()
	h := servertest.Start(t, append([]servertest.Option{servertest.WithClock(clk.Now)}, opts...)...)
	return refreshEnv{h: h, clock: clk, appID: createApp(t, h.Admin, "").GetApp().GetAppId()}
}

// issue starts a refresh family for subject.
func (e refreshEnv) issue(t *testing.T, c *client.Client, subject string) *tokendv1.IssueTokenResponse {
	t.Helper()
	resp, err := c.IssueToken(t.Context(), &tokendv1.IssueTokenRequest{AppId: e.appID, Subject: subject, IssueRefreshToken: true})
	if err != nil {
		t.Fatalf("IssueToken with a refresh token: %v", err)
	}
	if !strings.HasPrefix(resp.GetRefreshToken(), "tkr_") {
		t.Fatalf("refresh token %q lacks the tkr_ prefix", resp.GetRefreshToken())
	}
	return resp
}

// refresh exchanges rt and fails the test on error.
func refresh(t *testing.T, c *client.Client, rt, key string) *tokendv1.RefreshTokenResponse {
	t.Helper()
	resp, err := c.RefreshToken(t.Context(), &tokendv1.RefreshTokenRequest{RefreshToken: rt, IdempotencyKey: key})
	if err != nil {
		t.Fatalf("RefreshToken: %v", err)
	}
	return resp
}

// wantRPCError fails the test unless err has the code and ErrorInfo reason.
func wantRPCError(t *testing.T, what string, err error, code codes.Code, reason string) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || e.Code != code || e.Reason != reason {
		t.Errorf("%s: error %v, want %s with reason %s", what, err, code, reason)
	}
}

// wantValidation fails the test unless ValidateToken answers token with
// the reason (INVALID_REASON_UNSPECIFIED: valid).
func wantValidation(t *testing.T, c *client.Client, what, tok string, want tokendv1.InvalidReason) {
	t.Helper()
	v, err := c.ValidateToken(t.Context(), &tokendv1.ValidateTokenRequest{Token: tok})
	if err != nil {
		t.Fatalf("%s: ValidateToken: %v", what, err)
	}
	if v.GetReason() != want || v.GetValid() != (want == tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED) {
		t.Errorf("%s: valid=%v reason=%v (%s), want reason %v", what, v.GetValid(), v.GetReason(), v.GetDetail(), want)
	}
}

const (
	valid   = tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED
	revoked = tokendv1.InvalidReason_INVALID_REASON_REVOKED
)

// TestRefreshRotation follows one family through rotations: each refresh
// answers new tokens bound to the family's subject, audience and claims,
// and presenting a rotated refresh token revokes the family, its access
// tokens included (RFC 9700 reuse detection).
func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	e := startRefreshEnv(t)
	ctx, c := t.Context(), e.h.Admin
	extra, _ := structpb.NewStruct(map[string]any{"plan": "pro", "seats": 3})
	first, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{
		AppId: e.appID, Subject: "user-1", Ttl: durationpb.New(15 * time.Minute),
		Audience: []string{"orders", "billing"}, Claims: extra, IssueRefreshToken: true,
	})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	// Default idle lifetime: 14 days, within the 90-day family.
	if got, want := first.GetRefreshTokenExpiresAt().AsTime(), e.clock.Now().Add(14*24*time.Hour); !got.Equal(want) {
		t.Errorf("refresh_token_expires_at = %s, want %s", got, want)
	}
	other := e.issue(t, c, "user-1") // another family of the same subject

	access := []string{first.GetAccessToken()}
	rt := first.GetRefreshToken()
	used := []string{}
	for i := range 3 {
		e.clock.Advance(4 * time.Minute) // every access token is still live at the end
		resp, err := c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: rt, Ttl: durationpb.New(20 * time.Minute)})
		if err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		if resp.GetRefreshToken() == rt || !strings.HasPrefix(resp.GetRefreshToken(), "tkr_") {
			t.Fatalf("rotation %d returned refresh token %q", i, resp.GetRefreshToken())
		}
		if got, want := resp.GetExpiresAt().AsTime(), e.clock.Now().Add(20*time.Minute); !got.Equal(want) {
			t.Errorf("rotation %d: access token expires at %s, want %s", i, got, want)
		}
		if got, want := resp.GetRefreshTokenExpiresAt().AsTime(), e.clock.Now().Add(14*24*time.Hour); !got.Equal(want) {
			t.Errorf("rotation %d: refresh token expires at %s, want %s (idle lifetime from now)", i, got, want)
		}
		v, err := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: resp.GetAccessToken(), Audience: "billing"})
		if err != nil || !v.GetValid() {
			t.Fatalf("rotation %d: new access token: %v, %v", i, v, err)
		}
		cl := v.GetClaims()
		if cl.GetSubject() != "user-1" || cl.GetAppId() != e.appID || cl.GetTokenId() != resp.GetTokenId() ||
			!proto.Equal(cl.GetExtra(), extra) || strings.Join(cl.GetAudience(), ",") != "orders,billing" {
			t.Errorf("rotation %d: claims %v, want the family's subject, audience and extra claims", i, cl)
		}
		used = append(used, rt)
		rt = resp.GetRefreshToken()
		access = append(access, resp.GetAccessToken())
	}
	for i, at := range access {
		wantValidation(t, c, fmt.Sprintf("access token %d before reuse", i), at, valid)
	}

	_, err = c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: used[1]})
	wantRPCError(t, "reusing a rotated refresh token", err, codes.InvalidArgument, "REFRESH_TOKEN_REUSED")
	if !errors.Is(err, client.ErrRefreshReused) {
		t.Errorf("errors.Is(%v, client.ErrRefreshReused) = false", err)
	}
	_, err = c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: rt})
	wantRPCError(t, "the family's current refresh token after reuse", err, codes.InvalidArgument, "REFRESH_TOKEN_REVOKED")
	_, err = c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: used[0]})
	wantRPCError(t, "another rotated token after reuse", err, codes.InvalidArgument, "REFRESH_TOKEN_REUSED")
	for i, at := range access {
		wantValidation(t, c, fmt.Sprintf("access token %d of the family after reuse", i), at, revoked)
	}

	// The subject's other family is untouched.
	wantValidation(t, c, "access token of another family", other.GetAccessToken(), valid)
	refresh(t, c, other.GetRefreshToken(), "")

	e.h.Stop()
	logs := e.h.Logs.String()
	if !strings.Contains(logs, "refresh token reuse detected") {
		t.Error("reuse detection was not logged")
	}
	for _, secret := range append(used, rt, other.GetRefreshToken()) {
		if strings.Contains(logs, secret) {
			t.Fatal("the logs hold a refresh token")
		}
	}
}

// TestRefreshIdempotentRetry checks the retry window: the same refresh
// token with the same idempotency key, by the same caller, within 30 s and
// before the answer's refresh token is used, gets the identical answer;
// every other second presentation is reuse and revokes the family.
func TestRefreshIdempotentRetry(t *testing.T) {
	t.Parallel()
	e := startRefreshEnv(t)
	ctx, c := t.Context(), e.h.Admin
	caller, err := c.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: "other-issuer", Roles: []string{"issuer"}})
	if err != nil {
		t.Fatal(err)
	}
	otherCaller := e.h.Client(t, caller.GetApiKey())

	tests := []struct {
		name    string
		wait    time.Duration
		retryBy *client.Client
		key     string // of the retry; the first call uses "key-1"
		useNext bool   // use the first answer's refresh token before retrying
		replay  bool
	}{
		{name: "same key at once", key: "key-1", replay: true},
		{name: "same key at the end of the window", wait: 30 * time.Second, key: "key-1", replay: true},
		{name: "same key after the window", wait: 31 * time.Second, key: "key-1"},
		{name: "another key", key: "key-2"},
		{name: "no key", key: ""},
		{name: "same key by another caller", retryBy: otherCaller, key: "key-1"},
		{name: "same key after the answer was used", key: "key-1", useNext: true},
	}
	for _, tc := range tests { // sequential: they move the shared clock
		t.Run(tc.name, func(t *testing.T) {
			fam := e.issue(t, c, "user-"+tc.name)
			first := refresh(t, c, fam.GetRefreshToken(), "key-1")
			if tc.useNext {
				refresh(t, c, first.GetRefreshToken(), "")
			}
			e.clock.Advance(tc.wait)
			by := c
			if tc.retryBy != nil {
				by = tc.retryBy
			}
			again, err := by.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: fam.GetRefreshToken(), IdempotencyKey: tc.key})
			if tc.replay {
				if err != nil {
					t.Fatalf("retry: %v", err)
				}
				if !proto.Equal(again, first) {
					t.Fatalf("retry answered %v, want the first answer %v", again, first)
				}
				wantValidation(t, c, "the answer's access token", first.GetAccessToken(), valid)
				refresh(t, c, first.GetRefreshToken(), "") // the family lives on
				return
			}
			wantRPCError(t, "retry", err, codes.InvalidArgument, "REFRESH_TOKEN_REUSED")
			wantValidation(t, c, "the first answer's access token", first.GetAccessToken(), revoked)
			_, err = c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: first.GetRefreshToken(), IdempotencyKey: "key-1"})
			if !errors.Is(err, client.ErrRefreshRevoked) && !errors.Is(err, client.ErrRefreshReused) {
				t.Errorf("the first answer's refresh token after reuse: %v, want REVOKED (or REUSED once used)", err)
			}
		})
	}
}

// TestRefreshConcurrent sends the same refresh token in parallel through the
// real server. Without idempotency keys exactly one call succeeds and every
// other one is reuse, which revokes the family: the winner's new refresh
// and access tokens too (RFC 9700: a detected reuse ends the whole family,
// since the server cannot tell which holder is legitimate). With one shared
// idempotency key every call gets the winner's answer and the family lives.
func TestRefreshConcurrent(t *testing.T) {
	t.Parallel()
	const n = 24
	e := startRefreshEnv(t)
	c := e.h.Admin
	run := func(t *testing.T, rt string, key func(i int) string) ([]*tokendv1.RefreshTokenResponse, []error) {
		resps, errs := make([]*tokendv1.RefreshTokenResponse, n), make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				resps[i], errs[i] = c.RefreshToken(t.Context(), &tokendv1.RefreshTokenRequest{RefreshToken: rt, IdempotencyKey: key(i)})
			})
		}
		close(start)
		wg.Wait()
		return resps, errs
	}

	t.Run("distinct keys", func(t *testing.T) {
		fam := e.issue(t, c, "alice")
		resps, errs := run(t, fam.GetRefreshToken(), func(i int) string { return fmt.Sprintf("key-%d", i) })
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("calls %d and %d both succeeded", winner, i)
			case err == nil:
				winner = i
			default:
				wantRPCError(t, fmt.Sprintf("call %d", i), err, codes.InvalidArgument, "REFRESH_TOKEN_REUSED")
			}
		}
		if winner < 0 {
			t.Fatal("no call succeeded")
		}
		won := resps[winner]
		_, err := c.RefreshToken(t.Context(), &tokendv1.RefreshTokenRequest{RefreshToken: won.GetRefreshToken()})
		wantRPCError(t, "the winner's refresh token", err, codes.InvalidArgument, "REFRESH_TOKEN_REVOKED")
		wantValidation(t, c, "the winner's access token", won.GetAccessToken(), revoked)
		wantValidation(t, c, "the family's first access token", fam.GetAccessToken(), revoked)
	})

	t.Run("one shared key", func(t *testing.T) {
		fam := e.issue(t, c, "bob")
		resps, errs := run(t, fam.GetRefreshToken(), func(int) string { return "shared-key" })
		for i, err := range errs {
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if !proto.Equal(resps[i], resps[0]) {
				t.Fatalf("call %d answered %v, call 0 %v: want one answer", i, resps[i], resps[0])
			}
		}
		wantValidation(t, c, "the answer's access token", resps[0].GetAccessToken(), valid)
		refresh(t, c, resps[0].GetRefreshToken(), "")
	})
}

// TestRefreshRefusals covers the answers about the presented token and
// the request: each with its code and ErrorInfo reason.
func TestRefreshRefusals(t *testing.T) {
	t.Parallel()
	e := startRefreshEnv(t)
	ctx, c := t.Context(), e.h.Admin
	newCaller := func(name string, roles []string, apps ...string) *client.Client {
		resp, err := c.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: name, Roles: roles, AppIds: apps})
		if err != nil {
			t.Fatal(err)
		}
		return e.h.Client(t, resp.GetApiKey())
	}
	otherApp := createApp(t, c, "").GetApp().GetAppId()
	otherIssuer := newCaller("other-app-issuer", []string{"issuer"}, otherApp)
	validator := newCaller("validator", []string{"validator"})
	ownIssuer := newCaller("own-issuer", []string{"issuer"}, e.appID)

	live := e.issue(t, c, "carol")
	for _, tc := range []struct {
		name   string
		by     *client.Client
		req    *tokendv1.RefreshTokenRequest
		code   codes.Code
		reason string
	}{
		{"empty", c, &tokendv1.RefreshTokenRequest{}, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{"garbage", c, &tokendv1.RefreshTokenRequest{RefreshToken: "hello"}, codes.InvalidArgument, "REFRESH_TOKEN_INVALID"},
		{"unknown", c, &tokendv1.RefreshTokenRequest{RefreshToken: "tkr_" + strings.Repeat("A", 43)}, codes.InvalidArgument, "REFRESH_TOKEN_INVALID"},
		{"an access token", c, &tokendv1.RefreshTokenRequest{RefreshToken: live.GetAccessToken()}, codes.InvalidArgument, "REFRESH_TOKEN_INVALID"},
		{"idempotency key too long", c, &tokendv1.RefreshTokenRequest{RefreshToken: live.GetRefreshToken(), IdempotencyKey: strings.Repeat("k", 257)}, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{"ttl too short", c, &tokendv1.RefreshTokenRequest{RefreshToken: live.GetRefreshToken(), Ttl: durationpb.New(time.Minute)}, codes.InvalidArgument, "TTL_OUT_OF_RANGE"},
		{"ttl too long", c, &tokendv1.RefreshTokenRequest{RefreshToken: live.GetRefreshToken(), Ttl: durationpb.New(25 * time.Hour)}, codes.InvalidArgument, "TTL_OUT_OF_RANGE"},
		{"validator role", validator, &tokendv1.RefreshTokenRequest{RefreshToken: live.GetRefreshToken()}, codes.PermissionDenied, "ROLE_DENIED"},
		{"issuer of another app", otherIssuer, &tokendv1.RefreshTokenRequest{RefreshToken: live.GetRefreshToken()}, codes.PermissionDenied, "APP_SCOPE_DENIED"},
		// The out-of-scope caller learns nothing from unknown tokens.
		{"issuer of another app, unknown token", otherIssuer, &tokendv1.RefreshTokenRequest{RefreshToken: "tkr_" + strings.Repeat("B", 42) + "A"}, codes.InvalidArgument, "REFRESH_TOKEN_INVALID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.by.RefreshToken(ctx, tc.req)
			wantRPCError(t, tc.name, err, tc.code, tc.reason)
		})
	}
	// None of the refusals consumed the token.
	refresh(t, ownIssuer, live.GetRefreshToken(), "")

	t.Run("app disabled", func(t *testing.T) {
		fam := e.issue(t, c, "dave")
		setEnabled := func(on bool) {
			if _, err := c.UpdateApp(ctx, &tokendv1.UpdateAppRequest{AppId: e.appID, Enabled: proto.Bool(on)}); err != nil {
				t.Fatal(err)
			}
		}
		setEnabled(false)
		_, err := c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: fam.GetRefreshToken()})
		setEnabled(true)
		wantRPCError(t, "refresh in a disabled app", err, codes.FailedPrecondition, "APP_DISABLED")
		refresh(t, c, fam.GetRefreshToken(), "")
	})

	t.Run("revoked", func(t *testing.T) {
		fam := e.issue(t, c, "erin")
		if _, err := c.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: e.appID,
			Target: &tokendv1.RevokeTokenRequest_RefreshToken{RefreshToken: fam.GetRefreshToken()}}); err != nil {
			t.Fatal(err)
		}
		_, err := c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: fam.GetRefreshToken()})
		wantRPCError(t, "refresh of a revoked family", err, codes.InvalidArgument, "REFRESH_TOKEN_REVOKED")
	})

	t.Run("idle expired", func(t *testing.T) {
		fam := e.issue(t, c, "frank")
		e.clock.Advance(14*24*time.Hour - time.Second)
		next := refresh(t, c, fam.GetRefreshToken(), "") // a second before its idle expiry
		e.clock.Advance(14 * 24 * time.Hour)
		_, err := c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: next.GetRefreshToken()})
		wantRPCError(t, "refresh at the idle expiry", err, codes.InvalidArgument, "REFRESH_TOKEN_EXPIRED")
		if !errors.Is(err, client.ErrRefreshExpired) {
			t.Errorf("errors.Is(%v, client.ErrRefreshExpired) = false", err)
		}
	})
}

// TestRefreshFamilyLifetime uses an app with short refresh lifetimes: the
// idle expiry of each new refresh token is capped by the family's absolute
// expiry, after which the family is over however often it was used.
func TestRefreshFamilyLifetime(t *testing.T) {
	t.Parallel()
	clk := newStepClock()
	h := servertest.Start(t, servertest.WithClock(clk.Now))
	ctx, c := t.Context(), h.Admin
	created, err := c.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "short", Algorithm: "EdDSA",
		RefreshTokenIdleTtl: durationpb.New(20 * time.Minute), RefreshFamilyTtl: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	familyEnd := clk.Now().Add(time.Hour)
	resp, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: created.GetApp().GetAppId(), Subject: "u", IssueRefreshToken: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.GetRefreshTokenExpiresAt().AsTime(), clk.Now().Add(20*time.Minute); !got.Equal(want) {
		t.Errorf("first refresh token expires at %s, want %s (idle)", got, want)
	}
	rt := resp.GetRefreshToken()
	for _, step := range []struct {
		wait    time.Duration
		wantExp time.Time
	}{
		{15 * time.Minute, clk.Now().Add(35 * time.Minute)},
		{15 * time.Minute, clk.Now().Add(50 * time.Minute)},
		{15 * time.Minute, familyEnd}, // now+20m would pass the family's end
		{10 * time.Minute, familyEnd},
	} {
		clk.Advance(step.wait)
		r := refresh(t, c, rt, "")
		if got := r.GetRefreshTokenExpiresAt().AsTime(); !got.Equal(step.wantExp) {
			t.Errorf("at %s: refresh token expires at %s, want %s", clk.Now(), got, step.wantExp)
		}
		rt = r.GetRefreshToken()
	}
	clk.Advance(familyEnd.Sub(clk.Now()))
	_, err = c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: rt})
	wantRPCError(t, "refresh at the family's end", err, codes.InvalidArgument, "REFRESH_TOKEN_EXPIRED")
}

// TestRevokeToken revokes by each target and checks what validation and
// refreshing answer afterwards, and until when.
func TestRevokeToken(t *testing.T) {
	t.Parallel()
	e := startRefreshEnv(t)
	ctx, c := t.Context(), e.h.Admin
	revoke := func(t *testing.T, req *tokendv1.RevokeTokenRequest) int64 {
		t.Helper()
		req.AppId = e.appID
		resp, err := c.RevokeToken(ctx, req)
		if err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		return resp.GetRevokedRefreshTokens()
	}
	plain := func(t *testing.T, subject string) *tokendv1.IssueTokenResponse {
		t.Helper()
		resp, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: e.appID, Subject: subject, Ttl: durationpb.New(30 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	t.Run("token id", func(t *testing.T) {
		a, b := plain(t, "gina"), plain(t, "gina")
		if n := revoke(t, &tokendv1.RevokeTokenRequest{Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: a.GetTokenId()}, Reason: "lost laptop"}); n != 0 {
			t.Errorf("revoked_refresh_tokens = %d, want 0", n)
		}
		wantValidation(t, c, "revoked token", a.GetAccessToken(), revoked)
		wantValidation(t, c, "other token of the subject", b.GetAccessToken(), valid)
		v, err := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: a.GetAccessToken()})
		if err != nil || !errors.Is(client.InvalidTokenError(v), client.ErrRevoked) {
			t.Errorf("client.InvalidTokenError: %v, %v; want ErrRevoked", v, err)
		}
	})

	t.Run("refresh token", func(t *testing.T) {
		fam := e.issue(t, c, "hank")
		r1 := refresh(t, c, fam.GetRefreshToken(), "")
		r2 := refresh(t, c, r1.GetRefreshToken(), "")
		if n := revoke(t, &tokendv1.RevokeTokenRequest{Target: &tokendv1.RevokeTokenRequest_RefreshToken{RefreshToken: r2.GetRefreshToken()}}); n != 1 {
			t.Errorf("revoked_refresh_tokens = %d, want 1 (the family's live token)", n)
		}
		for i, at := range []string{fam.GetAccessToken(), r1.GetAccessToken(), r2.GetAccessToken()} {
			wantValidation(t, c, fmt.Sprintf("access token %d of the family", i), at, revoked)
		}
		_, err := c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: r2.GetRefreshToken()})
		wantRPCError(t, "refresh after revocation", err, codes.InvalidArgument, "REFRESH_TOKEN_REVOKED")
		if n := revoke(t, &tokendv1.RevokeTokenRequest{Target: &tokendv1.RevokeTokenRequest_RefreshToken{RefreshToken: r2.GetRefreshToken()}}); n != 0 {
			t.Errorf("second revocation: revoked_refresh_tokens = %d, want 0", n)
		}
	})

	t.Run("subject", func(t *testing.T) {
		famA, famB := e.issue(t, c, "ivy"), e.issue(t, c, "ivy")
		refresh(t, c, famB.GetRefreshToken(), "") // a used token in the family: not counted
		a := plain(t, "ivy")
		other := e.issue(t, c, "jack")
		if n := revoke(t, &tokendv1.RevokeTokenRequest{Target: &tokendv1.RevokeTokenRequest_Subject{Subject: "ivy"}}); n != 2 {
			t.Errorf("revoked_refresh_tokens = %d, want 2 (one live token per family)", n)
		}
		for name, at := range map[string]string{"plain": a.GetAccessToken(), "family A": famA.GetAccessToken(), "family B": famB.GetAccessToken()} {
			wantValidation(t, c, "ivy's "+name+" token", at, revoked)
		}
		_, err := c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: famA.GetRefreshToken()})
		wantRPCError(t, "refresh of ivy's family", err, codes.InvalidArgument, "REFRESH_TOKEN_REVOKED")
		wantValidation(t, c, "jack's token", other.GetAccessToken(), valid)
		refresh(t, c, other.GetRefreshToken(), "")

		// Tokens issued after the revocation's second are not covered.
		e.clock.Advance(time.Second)
		wantValidation(t, c, "ivy's new token", plain(t, "ivy").GetAccessToken(), valid)
		refresh(t, c, e.issue(t, c, "ivy").GetRefreshToken(), "")
	})

	t.Run("until expiry", func(t *testing.T) {
		a := plain(t, "kim")
		revoke(t, &tokendv1.RevokeTokenRequest{Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: a.GetTokenId()}})
		e.clock.Advance(30*time.Minute + 29*time.Second) // within exp + leeway
		wantValidation(t, c, "revoked token just before its expiry plus leeway", a.GetAccessToken(), revoked)
		e.clock.Advance(time.Second)
		wantValidation(t, c, "revoked token past its expiry", a.GetAccessToken(), tokendv1.InvalidReason_INVALID_REASON_EXPIRED)
	})
}

// TestRevokeTokenRefusals covers the bad requests and the caller checks.
func TestRevokeTokenRefusals(t *testing.T) {
	t.Parallel()
	e := startRefreshEnv(t)
	ctx, c := t.Context(), e.h.Admin
	otherApp := createApp(t, c, "").GetApp().GetAppId()
	fam := e.issue(t, c, "lena")
	newCaller := func(name string, roles []string, apps ...string) *client.Client {
		resp, err := c.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: name, Roles: roles, AppIds: apps})
		if err != nil {
			t.Fatal(err)
		}
		return e.h.Client(t, resp.GetApiKey())
	}
	otherIssuer := newCaller("other-app-issuer", []string{"issuer"}, otherApp)
	validator := newCaller("validator", []string{"validator"})
	byID := &tokendv1.RevokeTokenRequest_TokenId{TokenId: "jti"}
	for _, tc := range []struct {
		name   string
		by     *client.Client
		req    *tokendv1.RevokeTokenRequest
		code   codes.Code
		reason string
		field  string
	}{
		{"no app", c, &tokendv1.RevokeTokenRequest{Target: byID}, codes.InvalidArgument, "INVALID_ARGUMENT", "app_id"},
		{"no target", c, &tokendv1.RevokeTokenRequest{AppId: e.appID}, codes.InvalidArgument, "INVALID_ARGUMENT", "target"},
		{"empty token id", c, &tokendv1.RevokeTokenRequest{AppId: e.appID, Target: &tokendv1.RevokeTokenRequest_TokenId{}}, codes.InvalidArgument, "INVALID_ARGUMENT", "token_id"},
		{"empty subject", c, &tokendv1.RevokeTokenRequest{AppId: e.appID, Target: &tokendv1.RevokeTokenRequest_Subject{}}, codes.InvalidArgument, "INVALID_ARGUMENT", "subject"},
		{"subject too long", c, &tokendv1.RevokeTokenRequest{AppId: e.appID, Target: &tokendv1.RevokeTokenRequest_Subject{Subject: strings.Repeat("s", 257)}}, codes.InvalidArgument, "INVALID_ARGUMENT", "subject"},
		{"empty refresh token", c, &tokendv1.RevokeTokenRequest{AppId: e.appID, Target: &tokendv1.RevokeTokenRequest_RefreshToken{}}, codes.InvalidArgument, "INVALID_ARGUMENT", "refresh_token"},
		{"reason too long", c, &tokendv1.RevokeTokenRequest{AppId: e.appID, Target: byID, Reason: strings.Repeat("r", 513)}, codes.InvalidArgument, "INVALID_ARGUMENT", "reason"},
		{"unknown refresh token", c, &tokendv1.RevokeTokenRequest{AppId: e.appID, Target: &tokendv1.RevokeTokenRequest_RefreshToken{RefreshToken: "tkr_" + strings.Repeat("A", 43)}}, codes.InvalidArgument, "REFRESH_TOKEN_INVALID", "refresh_token"},
		{"refresh token of another app", c, &tokendv1.RevokeTokenRequest{AppId: otherApp, Target: &tokendv1.RevokeTokenRequest_RefreshToken{RefreshToken: fam.GetRefreshToken()}}, codes.InvalidArgument, "REFRESH_TOKEN_INVALID", "refresh_token"},
		{"unknown app", c, &tokendv1.RevokeTokenRequest{AppId: "app_nope", Target: byID}, codes.NotFound, "APP_NOT_FOUND", ""},
		{"issuer of another app", otherIssuer, &tokendv1.RevokeTokenRequest{AppId: e.appID, Target: byID}, codes.PermissionDenied, "APP_SCOPE_DENIED", ""},
		{"validator role", validator, &tokendv1.RevokeTokenRequest{AppId: e.appID, Target: byID}, codes.PermissionDenied, "ROLE_DENIED", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.by.RevokeToken(ctx, tc.req)
			wantRPCError(t, tc.name, err, tc.code, tc.reason)
			var ce *client.Error
			if errors.As(err, &ce) && ce.Metadata["field"] != tc.field {
				t.Errorf("ErrorInfo field = %q, want %q", ce.Metadata["field"], tc.field)
			}
		})
	}
	// The refused revocation of another app left the family alone.
	refresh(t, c, fam.GetRefreshToken(), "")
}

// TestRevocationSurvivesRestart checks that revocations and rotations are
// in the store before the answer: a new server on the same data refuses the
// revoked tokens (its denylist is loaded at start) and accepts the refresh
// token handed out last.
func TestRevocationSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newStepClock()
	h := servertest.Start(t, servertest.WithDataDir(dir), servertest.WithClock(clk.Now))
	ctx, c := t.Context(), h.Admin
	appID := createApp(t, c, "").GetApp().GetAppId()
	issue := func(c *client.Client, subject string, withRefresh bool) *tokendv1.IssueTokenResponse {
		resp, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: subject, IssueRefreshToken: withRefresh})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	byID, bySubject, kept := issue(c, "mia", false), issue(c, "noah", false), issue(c, "olga", true)
	for _, req := range []*tokendv1.RevokeTokenRequest{
		{AppId: appID, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: byID.GetTokenId()}},
		{AppId: appID, Target: &tokendv1.RevokeTokenRequest_Subject{Subject: "noah"}},
	} {
		if _, err := c.RevokeToken(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	next := refresh(t, c, kept.GetRefreshToken(), "")
	h.Stop()

	h2 := servertest.Start(t, servertest.WithDataDir(dir), servertest.WithClock(clk.Now))
	c2 := h2.Admin
	wantValidation(t, c2, "token revoked by id", byID.GetAccessToken(), revoked)
	wantValidation(t, c2, "token revoked by subject", bySubject.GetAccessToken(), revoked)
	wantValidation(t, c2, "token of the rotated family", next.GetAccessToken(), valid)
	last := refresh(t, c2, next.GetRefreshToken(), "") // the token handed out last works
	_, err := c2.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: kept.GetRefreshToken()})
	wantRPCError(t, "the token rotated before the restart", err, codes.InvalidArgument, "REFRESH_TOKEN_REUSED")
	wantValidation(t, c2, "the family's access token after reuse", last.GetAccessToken(), revoked)
}
