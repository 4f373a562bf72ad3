package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/servertest"
	"github.com/tokend/tokend/server/token"
)

// followDeadline is how soon a local Validator must follow a change.
const followDeadline = time.Second

func mustApp(t *testing.T, c *client.Client, alg string) *tokendv1.CreateAppResponse {
	t.Helper()
	resp, err := c.CreateApp(t.Context(), &tokendv1.CreateAppRequest{Name: "v", Algorithm: alg})
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	return resp
}

func mustIssue(t *testing.T, c *client.Client, req *tokendv1.IssueTokenRequest) *tokendv1.IssueTokenResponse {
	t.Helper()
	if req.Ttl == nil {
		req.Ttl = durationpb.New(time.Hour)
	}
	resp, err := c.IssueToken(t.Context(), req)
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	return resp
}

func revokeID(t *testing.T, c *client.Client, appID, jti string) {
	t.Helper()
	if _, err := c.RevokeToken(t.Context(), &tokendv1.RevokeTokenRequest{AppId: appID, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: jti}}); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
}

func setEnabled(t *testing.T, c *client.Client, appID string, on bool) {
	t.Helper()
	if _, err := c.UpdateApp(t.Context(), &tokendv1.UpdateAppRequest{AppId: appID, Enabled: &on}); err != nil {
		t.Fatalf("UpdateApp: %v", err)
	}
}

// validatorClient returns a client of a validator caller (all apps).
func validatorClient(t *testing.T, h *servertest.Harness, opts ...client.Option) *client.Client {
	t.Helper()
	resp, err := h.Admin.CreateCaller(t.Context(), &tokendv1.CreateCallerRequest{Name: fmt.Sprintf("validator-%d", time.Now().UnixNano()), Roles: []string{"validator"}})
	if err != nil {
		t.Fatalf("CreateCaller: %v", err)
	}
	c, err := client.New(h.Addr(), append([]client.Option{client.WithAPIKey(resp.GetApiKey())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func localValidator(t *testing.T, c *client.Client, opts ...client.ValidatorOption) *client.Validator {
	t.Helper()
	v := client.NewLocalValidator(c, opts...)
	t.Cleanup(func() { _ = v.Close() })
	if err := v.Wait(t.Context()); err != nil {
		t.Fatalf("local validator never got a key set: %v", err)
	}
	return v
}

// reasonOf validates and returns the reason, failing on errors.
func reasonOf(t *testing.T, v *client.Validator, tok string, exp client.Expect) token.Reason {
	t.Helper()
	res, err := v.Validate(t.Context(), tok, exp)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return res.Reason
}

// eventually waits until v answers want for tok, within followDeadline.
func eventually(t *testing.T, v *client.Validator, what, tok string, want token.Reason) {
	t.Helper()
	start := time.Now()
	var got token.Reason
	for time.Since(start) < followDeadline {
		if got = reasonOf(t, v, tok, client.Expect{}); got == want {
			t.Logf("%s: local validator followed in %v", what, time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: local validator still answers %s after %s, want %s", what, got, followDeadline, want)
}

// agreementCase is one token of the agreement table.
type agreementCase struct {
	name  string
	tok   string
	exp   client.Expect
	at    time.Duration // server and validator clock: T0 + at
	want  token.Reason
	error string // ErrorInfo reason of a refused request, instead of want
}

// TestLocalValidatorAgreesWithServer: the local Validator (fed by
// WatchKeys) and the server's ValidateToken give the same answer on a
// table that reaches every reason, with the clock moved for time-bound
// reasons.
func TestLocalValidatorAgreesWithServer(t *testing.T) {
	t.Parallel()
	t0 := time.Now().Truncate(time.Second)
	clock := servertest.NewClock(t0)
	h := servertest.Start(t, servertest.WithClock(clock.Now))
	admin := h.Admin

	a := mustApp(t, admin, "ES256")
	appA, kidA := a.GetApp().GetAppId(), a.GetKey().GetKeyId()
	privA := parsePrivateKey(t, a.GetPrivateKeyPem()).(*ecdsa.PrivateKey)
	b := mustApp(t, admin, "EdDSA")
	appB, kidB := b.GetApp().GetAppId(), b.GetKey().GetKeyId()
	privB := parsePrivateKey(t, b.GetPrivateKeyPem())
	appOff := mustApp(t, admin, "").GetApp().GetAppId()
	r := mustApp(t, admin, "ES256")
	appR, kidR0 := r.GetApp().GetAppId(), r.GetKey().GetKeyId()
	privR0 := parsePrivateKey(t, r.GetPrivateKeyPem())

	extra := map[string]any{"role": "buyer"}
	extraPB, _ := structpbFrom(extra)
	issued := mustIssue(t, admin, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "alice", Audience: []string{"orders"}, Claims: extraPB})
	delayed := mustIssue(t, admin, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "alice", NotBeforeDelay: durationpb.New(5 * time.Minute)})
	offTok := mustIssue(t, admin, &tokendv1.IssueTokenRequest{AppId: appOff, Subject: "alice"})
	setEnabled(t, admin, appOff, false)
	revoked := mustIssue(t, admin, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "alice"})
	revokeID(t, admin, appA, revoked.GetTokenId())
	mallory := mustIssue(t, admin, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "mallory"})
	if _, err := admin.RevokeToken(t.Context(), &tokendv1.RevokeTokenRequest{AppId: appA, Target: &tokendv1.RevokeTokenRequest_Subject{Subject: "mallory"}}); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(2 * time.Second)) // the next second: mallory signs in again
	malloryAgain := mustIssue(t, admin, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "mallory"})
	clock.Set(t0)
	// appR: its first key is replaced at once, then the replacement is
	// revoked; the first key validates until t0 + 24h + leeway.
	rot, err := admin.RotateAppKey(t.Context(), &tokendv1.RotateAppKeyRequest{AppId: appR, ActivationDelay: durationpb.New(0)})
	if err != nil {
		t.Fatal(err)
	}
	kidR1, privR1 := rot.GetKey().GetKeyId(), parsePrivateKey(t, rot.GetPrivateKeyPem())
	if _, err := admin.RevokeAppKey(t.Context(), &tokendv1.RevokeAppKeyRequest{AppId: appR, KeyId: kidR1}); err != nil {
		t.Fatal(err)
	}

	vc := validatorClient(t, h)
	local := localValidator(t, vc, client.WithValidatorClock(clock.Now), client.WithKeyFeed(client.KeyFeedWatch))
	uncached := localValidator(t, vc, client.WithValidatorClock(clock.Now), client.WithKeyFeed(client.KeyFeedWatch), client.WithValidatorCache(0))
	remote := client.NewRemoteValidator(vc)
	// Sync: a revocation made last is seen, so everything before it is.
	marker := mustIssue(t, admin, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "marker"})
	revokeID(t, admin, appA, marker.GetTokenId())
	eventually(t, local, "marker revocation", marker.GetAccessToken(), token.ReasonRevoked)
	eventually(t, uncached, "marker revocation", marker.GetAccessToken(), token.ReasonRevoked)

	es := func(h, c map[string]any) string { return forge(t, h, c, privA) }
	hdrA := map[string]any{"alg": "ES256", "typ": "JWT", "kid": kidA}
	claimsA := backendClaims(appA, t0, time.Hour)
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	attackerJWK, _ := json.Marshal(jose.JSONWebKey{Key: attacker.Public(), Algorithm: "ES256", Use: "sig"})
	var embedded map[string]any
	_ = json.Unmarshal(attackerJWK, &embedded)
	jwksA, err := vc.GetJWKS(t.Context(), &tokendv1.GetJWKSRequest{AppId: appA})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(issued.GetAccessToken(), ".")
	tamperedSig := parts[0] + "." + parts[1] + "." + flip(parts[2])
	tamperedClaims := parts[0] + "." + seg(t, map[string]any{"sub": "root", "aid": appA, "iat": t0.Unix(), "exp": t0.Add(time.Hour).Unix()}) + "." + parts[2]

	cases := []agreementCase{
		{name: "valid", tok: issued.GetAccessToken(), want: token.ReasonNone},
		{name: "valid with audience", tok: issued.GetAccessToken(), exp: client.Expect{Audience: "orders"}, want: token.ReasonNone},
		{name: "valid with app", tok: issued.GetAccessToken(), exp: client.Expect{AppID: appA}, want: token.ReasonNone},
		{name: "valid backend token", tok: es(hdrA, claimsA), want: token.ReasonNone},
		{name: "valid backend token without kid", tok: es(with(hdrA, "kid", nil), claimsA), want: token.ReasonNone},
		{name: "valid backend EdDSA token", tok: forge(t, map[string]any{"alg": "EdDSA", "kid": kidB}, backendClaims(appB, t0, time.Hour), privB), want: token.ReasonNone},
		{name: "valid within leeway after exp", tok: issued.GetAccessToken(), at: time.Hour + 20*time.Second, want: token.ReasonNone},
		{name: "valid once the delay passed", tok: delayed.GetAccessToken(), at: 5 * time.Minute, want: token.ReasonNone},
		{name: "subject signed in again after revocation", tok: malloryAgain.GetAccessToken(), want: token.ReasonNone},

		{name: "garbage", tok: "not a token", want: token.ReasonMalformed},
		{name: "two segments", tok: "eyJhbGciOiJFUzI1NiJ9.e30", want: token.ReasonMalformed},
		{name: "JWE shape", tok: "a.b.c.d.e", want: token.ReasonMalformed},
		{name: "exp of the wrong type", tok: es(hdrA, with(claimsA, "exp", "tomorrow")), want: token.ReasonMalformed},
		{name: "embedded jwk header", tok: forge(t, with(hdrA, "jwk", embedded), claimsA, attacker), want: token.ReasonMalformed},
		{name: "jku header", tok: es(with(hdrA, "jku", "https://evil.example/jwks.json"), claimsA), want: token.ReasonMalformed},
		{name: "unknown crit header", tok: es(with(hdrA, "crit", []string{"exp2"}, "exp2", 1), claimsA), want: token.ReasonMalformed},
		{name: "alg none", tok: forge(t, with(hdrA, "alg", "none"), claimsA, nil), want: token.ReasonUnsupportedAlgorithm},
		{name: "HS256 keyed with the public JWKS", tok: forge(t, with(hdrA, "alg", "HS256"), claimsA, []byte(jwksA.GetJwksJson())), want: token.ReasonUnsupportedAlgorithm},
		{name: "header alg is not the key's", tok: es(with(hdrA, "alg", "RS256"), claimsA), want: token.ReasonUnsupportedAlgorithm},
		{name: "unknown kid", tok: es(with(hdrA, "kid", "k_nope"), claimsA), want: token.ReasonUnknownKey},
		{name: "kid of another app", tok: forge(t, map[string]any{"alg": "EdDSA", "kid": kidB}, claimsA, privB), want: token.ReasonUnknownKey},
		{name: "revoked key", tok: forge(t, map[string]any{"alg": "ES256", "kid": kidR1}, backendClaims(appR, t0, time.Hour), privR1), want: token.ReasonUnknownKey},
		{name: "signature altered", tok: tamperedSig, want: token.ReasonBadSignature},
		{name: "claims altered", tok: tamperedClaims, want: token.ReasonBadSignature},
		{name: "signed by another key", tok: forge(t, hdrA, claimsA, attacker), want: token.ReasonBadSignature},
		{name: "expired", tok: issued.GetAccessToken(), at: 2 * time.Hour, want: token.ReasonExpired},
		{name: "delayed nbf", tok: delayed.GetAccessToken(), want: token.ReasonNotYetValid},
		{name: "iat in the future", tok: es(hdrA, backendClaims(appA, t0.Add(10*time.Minute), time.Hour)), want: token.ReasonNotYetValid},
		{name: "lifetime of 30 days", tok: es(hdrA, backendClaims(appA, t0, 30*24*time.Hour)), want: token.ReasonLifetimeTooLong},
		{name: "no sub", tok: es(hdrA, with(claimsA, "sub", nil)), want: token.ReasonMissingClaim},
		{name: "no aid", tok: es(hdrA, with(claimsA, "aid", nil)), want: token.ReasonMissingClaim},
		{name: "no exp", tok: es(hdrA, with(claimsA, "exp", nil)), want: token.ReasonMissingClaim},
		{name: "audience mismatch", tok: issued.GetAccessToken(), exp: client.Expect{Audience: "billing"}, want: token.ReasonAudienceMismatch},
		{name: "unknown app", tok: es(hdrA, with(claimsA, "aid", "app_nope")), want: token.ReasonUnknownApp},
		{name: "app mismatch", tok: issued.GetAccessToken(), exp: client.Expect{AppID: appB}, want: token.ReasonAppMismatch},
		{name: "app disabled", tok: offTok.GetAccessToken(), want: token.ReasonAppDisabled},
		{name: "revoked token id", tok: revoked.GetAccessToken(), want: token.ReasonRevoked},
		{name: "revoked subject", tok: mallory.GetAccessToken(), want: token.ReasonRevoked},

		{name: "empty", tok: "", error: "TOKEN_EMPTY"},
		{name: "too large", tok: strings.Repeat("a", token.DefaultMaxTokenSize+1), error: "TOKEN_TOO_LARGE"},
		{name: "not UTF-8", tok: "eyJ\xff.e30.sig", error: "TOKEN_NOT_UTF8"},

		// Last: the clock jumps a day, past the first key of appR.
		{name: "key past its verification window", at: 25 * time.Hour,
			tok: forge(t, map[string]any{"alg": "ES256", "kid": kidR0}, backendClaims(appR, t0.Add(25*time.Hour), time.Hour), privR0), want: token.ReasonUnknownKey},
	}

	reached := map[token.Reason]bool{}
	for _, tc := range cases {
		for _, lv := range []struct {
			name string
			v    *client.Validator
		}{{"cached", local}, {"uncached", uncached}} {
			t.Run(tc.name+"/"+lv.name, func(t *testing.T) { agree(t, clock, t0, tc, remote, lv.v, reached) })
		}
	}
	for r := token.ReasonNone; r <= token.ReasonRevoked; r++ {
		if !reached[r] {
			t.Errorf("no case of the table reaches %s", r)
		}
	}
}

// agree validates tc with the server (through remote) and with local at
// the case's time and compares the answers.
func agree(t *testing.T, clock *servertest.Clock, t0 time.Time, tc agreementCase, remote, local *client.Validator, reached map[token.Reason]bool) {
	t.Helper()
	clock.Set(t0.Add(tc.at))
	defer clock.Set(t0)
	want, wantErr := remote.Validate(t.Context(), tc.tok, tc.exp)
	got, gotErr := local.Validate(t.Context(), tc.tok, tc.exp)
	if tc.error != "" {
		var we, ge *client.Error
		if !errors.As(wantErr, &we) || !errors.As(gotErr, &ge) || we.Reason != tc.error || ge.Reason != tc.error || we.Code != ge.Code {
			t.Fatalf("server: %v; local: %v; want both %s", wantErr, gotErr, tc.error)
		}
		return
	}
	if wantErr != nil || gotErr != nil {
		t.Fatalf("server error %v, local error %v", wantErr, gotErr)
	}
	if want.Reason != tc.want {
		t.Errorf("server answers %s (%s), the table says %s", want.Reason, want.Detail, tc.want)
	}
	if got.Reason != want.Reason {
		t.Fatalf("local answers %s (%s), server %s (%s)", got.Reason, got.Detail, want.Reason, want.Detail)
	}
	reached[got.Reason] = true
	if want.Valid() {
		g, w := got.Claims, want.Claims
		if got.KeyID != want.KeyID || g.Subject != w.Subject || g.AppID != w.AppID || g.ID != w.ID ||
			!g.ExpiresAt.Equal(w.ExpiresAt) || !g.IssuedAt.Equal(w.IssuedAt) || strings.Join(g.Audience, ",") != strings.Join(w.Audience, ",") ||
			fmt.Sprint(g.Extra) != fmt.Sprint(w.Extra) {
			t.Errorf("claims differ:\nlocal  %s %+v\nserver %s %+v", got.KeyID, g, want.KeyID, w)
		}
	}
	if err := client.ResultError(got); (err == nil) != got.Valid() || (err != nil && !errors.Is(err, sentinelOf(got.Reason))) {
		t.Errorf("ResultError = %v for %s", err, got.Reason)
	}
}

func flip(sig string) string {
	b := []byte(sig)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func sentinelOf(r token.Reason) error {
	return map[token.Reason]error{
		token.ReasonMalformed: client.ErrMalformed, token.ReasonUnsupportedAlgorithm: client.ErrUnsupportedTokenAlg,
		token.ReasonUnknownKey: client.ErrUnknownKey, token.ReasonBadSignature: client.ErrBadSignature,
		token.ReasonExpired: client.ErrExpired, token.ReasonNotYetValid: client.ErrNotYetValid,
		token.ReasonLifetimeTooLong: client.ErrLifetimeTooLong, token.ReasonMissingClaim: client.ErrMissingClaim,
		token.ReasonAudienceMismatch: client.ErrAudienceMismatch, token.ReasonUnknownApp: client.ErrUnknownApp,
		token.ReasonAppMismatch: client.ErrAppMismatch, token.ReasonAppDisabled: client.ErrTokenAppDisabled,
		token.ReasonRevoked: client.ErrRevoked,
	}[r]
}

// TestLocalValidatorFollowsChanges: within a second of each change on the
// server, the local Validator fed by WatchKeys answers the new way.
func TestLocalValidatorFollowsChanges(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	admin := h.Admin
	appID := mustApp(t, admin, "").GetApp().GetAppId()
	v := localValidator(t, validatorClient(t, h), client.WithKeyFeed(client.KeyFeedWatch))

	tok := mustIssue(t, admin, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "alice"})
	if got := reasonOf(t, v, tok.GetAccessToken(), client.Expect{}); got != token.ReasonNone {
		t.Fatalf("fresh token: %s, want valid", got)
	}
	revokeID(t, admin, appID, tok.GetTokenId())
	eventually(t, v, "token revocation", tok.GetAccessToken(), token.ReasonRevoked)

	bob := mustIssue(t, admin, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "bob"})
	if _, err := admin.RevokeToken(t.Context(), &tokendv1.RevokeTokenRequest{AppId: appID, Target: &tokendv1.RevokeTokenRequest_Subject{Subject: "bob"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, v, "subject revocation", bob.GetAccessToken(), token.ReasonRevoked)

	carol := mustIssue(t, admin, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "carol"})
	setEnabled(t, admin, appID, false)
	eventually(t, v, "app disabled", carol.GetAccessToken(), token.ReasonAppDisabled)
	setEnabled(t, admin, appID, true)
	eventually(t, v, "app enabled again", carol.GetAccessToken(), token.ReasonNone)

	// A rotation that signs at once: the new key's tokens validate
	// locally within the second.
	rot, err := admin.RotateAppKey(t.Context(), &tokendv1.RotateAppKeyRequest{AppId: appID, ActivationDelay: durationpb.New(0)})
	if err != nil {
		t.Fatal(err)
	}
	fresh := mustIssue(t, admin, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "dave"})
	if fresh.GetKeyId() != rot.GetKey().GetKeyId() {
		t.Fatalf("token signed by %s, want the new key %s", fresh.GetKeyId(), rot.GetKey().GetKeyId())
	}
	eventually(t, v, "rotation", fresh.GetAccessToken(), token.ReasonNone)

	// Emergency revocation of the old key: its tokens die locally too.
	if _, err := admin.RevokeAppKey(t.Context(), &tokendv1.RevokeAppKeyRequest{AppId: appID, KeyId: carol.GetKeyId()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, v, "key revocation", carol.GetAccessToken(), token.ReasonUnknownKey)

	// A new app's tokens.
	other := mustApp(t, admin, "EdDSA").GetApp().GetAppId()
	otherTok := mustIssue(t, admin, &tokendv1.IssueTokenRequest{AppId: other, Subject: "erin"})
	eventually(t, v, "new app", otherTok.GetAccessToken(), token.ReasonNone)

	st := v.Status()
	if st.Mode != "watch" || !st.Connected || st.Stats.Snapshots != 1 || st.Stats.Changes < 6 || st.Stats.Fetches != 0 {
		t.Errorf("status = %+v, want one watch stream with one snapshot, its changes and no fetch", st)
	}
}

// TestLocalValidatorReconnectsAndResumes: the server ends streams every
// 200 ms; the Validator reconnects, resumes from its version (no new
// snapshot) and keeps following changes.
func TestLocalValidatorReconnectsAndResumes(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t, servertest.WithServerOption(server.WithWatchMaxAge(200*time.Millisecond)))
	appID := mustApp(t, h.Admin, "").GetApp().GetAppId()
	v := localValidator(t, validatorClient(t, h), client.WithKeyFeed(client.KeyFeedWatch), client.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for v.Status().Stats.Streams < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	tok := mustIssue(t, h.Admin, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "alice"})
	revokeID(t, h.Admin, appID, tok.GetTokenId())
	eventually(t, v, "revocation across reconnections", tok.GetAccessToken(), token.ReasonRevoked)
	if st := v.Status(); st.Stats.Streams < 3 || st.Stats.Snapshots != 1 {
		t.Errorf("status = %+v, want several streams and a single snapshot (the others resumed)", st)
	}
}

// TestLocalValidatorReconnectsToRestartedServer: the server restarts on the
// same address and data; the Validator reconnects with backoff, gets a new
// snapshot (its version is from the previous run) and validates with it.
func TestLocalValidatorReconnectsToRestartedServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := servertest.Start(t, servertest.WithDataDir(dir))
	appID := mustApp(t, h.Admin, "").GetApp().GetAppId()
	tok := mustIssue(t, h.Admin, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "alice"})
	c, err := client.New(h.Addr(), client.WithAPIKey(servertest.AdminKey))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v := localValidator(t, c, client.WithKeyFeed(client.KeyFeedWatch), client.WithReconnectBackoff(10*time.Millisecond, 100*time.Millisecond))
	addr := h.Addr()
	h.Stop()
	if got := reasonOf(t, v, tok.GetAccessToken(), client.Expect{}); got != token.ReasonNone {
		t.Fatalf("while tokend is down: %s, want valid from the held key set", got)
	}
	h2 := servertest.Start(t, servertest.WithDataDir(dir), servertest.WithConfig(func(c *server.Config) { c.GRPCListen = addr }))
	revokeID(t, h2.Admin, appID, tok.GetTokenId())
	deadline := time.Now().Add(5 * time.Second)
	for reasonOf(t, v, tok.GetAccessToken(), client.Expect{}) != token.ReasonRevoked {
		if time.Now().After(deadline) {
			t.Fatalf("validator did not follow the restarted server: %+v", v.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := v.Status(); st.Stats.Snapshots != 2 {
		t.Errorf("snapshots = %d, want 2 (the restarted server cannot resume the old version)", st.Stats.Snapshots)
	}
}

// countingClient counts the GetJWKS calls of a client.
func countingClient(t *testing.T, h *servertest.Harness) (*client.Client, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	count := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if method == tokendv1.TokenService_GetJWKS_FullMethodName {
			n.Add(1)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	return validatorClient(t, h, client.WithDialOptions(grpc.WithChainUnaryInterceptor(count))), &n
}

// TestLocalValidatorFallsBackToPolling: against a server that refuses
// WatchKeys, the automatic feed polls GetJWKS, and a token of a key or app
// it does not know yet makes it fetch at once.
func TestLocalValidatorFallsBackToPolling(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t, servertest.WithServerOption(server.WithoutWatchKeys()))
	appID := mustApp(t, h.Admin, "").GetApp().GetAppId()
	c, fetches := countingClient(t, h)
	v := localValidator(t, c, client.WithPollInterval(time.Hour), client.WithRefreshMinInterval(0))
	if st := v.Status(); st.Mode != "poll" {
		t.Fatalf("mode = %q, want poll", st.Mode)
	}
	tok := mustIssue(t, h.Admin, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "alice"})
	if got := reasonOf(t, v, tok.GetAccessToken(), client.Expect{AppID: appID}); got != token.ReasonNone {
		t.Fatalf("token: %s, want valid", got)
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("GetJWKS calls = %d, want 1", n)
	}
	// Unknown key (a rotation that signs at once) and unknown app: one
	// fetch each, then valid.
	if _, err := h.Admin.RotateAppKey(t.Context(), &tokendv1.RotateAppKeyRequest{AppId: appID, ActivationDelay: durationpb.New(0)}); err != nil {
		t.Fatal(err)
	}
	rotated := mustIssue(t, h.Admin, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "alice"})
	if got := reasonOf(t, v, rotated.GetAccessToken(), client.Expect{}); got != token.ReasonNone {
		t.Errorf("token of the new key: %s, want valid after a fetch", got)
	}
	other := mustApp(t, h.Admin, "EdDSA").GetApp().GetAppId()
	otherTok := mustIssue(t, h.Admin, &tokendv1.IssueTokenRequest{AppId: other, Subject: "bob"})
	if got := reasonOf(t, v, otherTok.GetAccessToken(), client.Expect{}); got != token.ReasonNone {
		t.Errorf("token of a new app: %s, want valid after a fetch", got)
	}
	// Policies come with GetJWKS: a disabled app is seen at the next fetch.
	setEnabled(t, h.Admin, other, false)
	if got := reasonOf(t, v, forgeUnknownKid(t, other), client.Expect{}); got != token.ReasonUnknownKey {
		t.Errorf("unknown kid: %s", got)
	}
	if got := reasonOf(t, v, otherTok.GetAccessToken(), client.Expect{}); got != token.ReasonAppDisabled {
		t.Errorf("token of the disabled app: %s, want APP_DISABLED after a fetch", got)
	}
	if st := v.Status(); st.Stats.TriggeredFetches != 3 || fetches.Load() != 4 {
		t.Errorf("triggered fetches = %d, GetJWKS calls = %d; want 3 and 4", st.Stats.TriggeredFetches, fetches.Load())
	}
}

// forgeUnknownKid is a token of appID under a kid nobody has.
func forgeUnknownKid(t *testing.T, appID string) string {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kid := make([]byte, 8)
	_, _ = rand.Read(kid)
	return forge(t, map[string]any{"alg": "ES256", "kid": fmt.Sprintf("k_%x", kid)}, backendClaims(appID, time.Now(), time.Hour), k)
}

// TestUnknownKidFloodIsRateLimited: a flood of tokens with unknown kids
// costs at most one GetJWKS per refresh interval.
func TestUnknownKidFloodIsRateLimited(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t, servertest.WithServerOption(server.WithoutWatchKeys()))
	appID := mustApp(t, h.Admin, "").GetApp().GetAppId()
	const interval = 300 * time.Millisecond
	c, fetches := countingClient(t, h)
	v := localValidator(t, c, client.WithKeyFeed(client.KeyFeedPoll), client.WithPollInterval(time.Hour), client.WithRefreshMinInterval(interval))
	flood := func() {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 50 {
					if got := reasonOf(t, v, forgeUnknownKid(t, appID), client.Expect{}); got != token.ReasonUnknownKey {
						t.Errorf("unknown kid: %s", got)
					}
				}
			})
		}
		wg.Wait()
	}
	start := time.Now()
	flood()
	if elapsed := time.Since(start); elapsed < interval {
		if n := fetches.Load(); n != 2 {
			t.Fatalf("after a flood of 400 unknown kids within %v: %d GetJWKS calls, want 2 (start + one triggered)", elapsed, n)
		}
	} else {
		t.Logf("the flood took %v, longer than the interval", elapsed)
	}
	limit := 2 + int64(time.Since(start)/interval) + 1
	if n := fetches.Load(); n > limit {
		t.Fatalf("%d GetJWKS calls in %v, at most %d allowed", n, time.Since(start), limit)
	}
	// After the interval, the next unknown kid fetches again.
	before := fetches.Load()
	for fetches.Load() == before {
		reasonOf(t, v, forgeUnknownKid(t, appID), client.Expect{})
		if time.Since(start) > 10*interval {
			t.Fatal("no fetch after the interval")
		}
		time.Sleep(interval / 10)
	}
}

// TestLocalValidatorLifecycle: Validate waits for the first key set, fails
// with ErrNotReady when tokend is unreachable, and ErrValidatorClosed
// after Close; stream errors are *client.Error.
func TestLocalValidatorLifecycle(t *testing.T) {
	t.Parallel()
	c, err := client.New("127.0.0.1:1", client.WithAPIKey("tkd_nope"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v := client.NewLocalValidator(c, client.WithReadyTimeout(200*time.Millisecond), client.WithReconnectBackoff(10*time.Millisecond, 20*time.Millisecond))
	_, err = v.Validate(context.Background(), "x.y.z", client.Expect{})
	if !errors.Is(err, client.ErrNotReady) {
		t.Fatalf("Validate without a reachable tokend = %v, want ErrNotReady", err)
	}
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Errorf("the cause of ErrNotReady is not a *client.Error: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = v.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the feed")
	}
	if _, err := v.Validate(context.Background(), "x.y.z", client.Expect{}); !errors.Is(err, client.ErrValidatorClosed) {
		t.Fatalf("Validate after Close = %v, want ErrValidatorClosed", err)
	}
	_ = v.Close() // twice is harmless
}

// TestLocalValidatorMaxStaleness: with a maximum staleness, a Validator
// whose feed is lost refuses to judge once that time has passed.
func TestLocalValidatorMaxStaleness(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	appID := mustApp(t, h.Admin, "").GetApp().GetAppId()
	tok := mustIssue(t, h.Admin, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "alice"})
	c, err := client.New(h.Addr(), client.WithAPIKey(servertest.AdminKey))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v := localValidator(t, c, client.WithMaxStaleness(100*time.Millisecond), client.WithReconnectBackoff(10*time.Millisecond, 20*time.Millisecond))
	if got := reasonOf(t, v, tok.GetAccessToken(), client.Expect{}); got != token.ReasonNone {
		t.Fatalf("connected: %s, want valid", got)
	}
	h.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Validate(t.Context(), tok.GetAccessToken(), client.Expect{})
		if errors.Is(err, client.ErrStale) {
			return
		}
		if err != nil {
			t.Fatalf("Validate = %v, want a verdict and then ErrStale", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("still judging 5 s after tokend went away, max staleness 100ms")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestResultError(t *testing.T) {
	t.Parallel()
	if err := client.ResultError(client.Result{}); err != nil {
		t.Errorf("valid result: %v", err)
	}
	for r := token.ReasonMalformed; r <= token.ReasonRevoked; r++ {
		err := client.ResultError(client.Result{Reason: r, Detail: "why"})
		if !errors.Is(err, sentinelOf(r)) || !strings.Contains(err.Error(), "why") {
			t.Errorf("%s: %v", r, err)
		}
	}
}

// BenchmarkValidator compares validating one token locally (WatchKeys
// feed; with the validation cache, and without: a signature verification
// per call) with asking the server (ValidateToken over loopback gRPC).
func BenchmarkValidator(b *testing.B) {
	h := servertest.Start(b)
	app, err := h.Admin.CreateApp(b.Context(), &tokendv1.CreateAppRequest{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	issued, err := h.Admin.IssueToken(b.Context(), &tokendv1.IssueTokenRequest{AppId: app.GetApp().GetAppId(), Subject: "alice"})
	if err != nil {
		b.Fatal(err)
	}
	local := client.NewLocalValidator(h.Admin)
	defer local.Close()
	if err := local.Wait(b.Context()); err != nil {
		b.Fatal(err)
	}
	uncached := client.NewLocalValidator(h.Admin, client.WithValidatorCache(0))
	defer uncached.Close()
	if err := uncached.Wait(b.Context()); err != nil {
		b.Fatal(err)
	}
	for name, v := range map[string]*client.Validator{"local": local, "local-uncached": uncached, "remote": client.NewRemoteValidator(h.Admin)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if res, err := v.Validate(context.Background(), issued.GetAccessToken(), client.Expect{}); err != nil || !res.Valid() {
						b.Fatalf("%v %v", res.Reason, err)
					}
				}
			})
		})
	}
}
