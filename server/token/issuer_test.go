package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/token"
)

func TestIssue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	// Sources with the odd app out.
	noSigner := f.src.clone()
	delete(noSigner.signers, "app-es")
	shortKey := f.src.clone()
	sk, err := token.NewSigningKey("k-es", jose.ES256, f.keys["k-es"].Priv, t0.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	shortKey.signers["app-es"] = sk
	noKid := f.src.clone()
	bare, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: f.keys["k-es"].Priv}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	noKid.signers["app-es"] = token.SigningKey{ID: "k-es", Algorithm: jose.ES256, Signer: bare}
	nilSigner := f.src.clone()
	nilSigner.signers["app-es"] = token.SigningKey{ID: "k-es", Algorithm: jose.ES256}
	longDefault := f.src.clone()
	longDefault.apps["app-es"] = token.AppPolicy{ID: "app-es", Enabled: true, MaxTokenTTL: 48 * time.Hour, DefaultTTL: 2 * time.Hour}

	max := token.DefaultMaxTTL
	tests := []struct {
		name    string
		src     *fakeSource
		req     token.IssueRequest
		want    error
		wantTTL time.Duration // exp - iat when issued
	}{
		{name: "defaults", req: token.IssueRequest{AppID: "app-es", Subject: "u"}, wantTTL: token.DefaultTTL},
		{name: "app default TTL", src: longDefault, req: token.IssueRequest{AppID: "app-es", Subject: "u"}, wantTTL: 2 * time.Hour},
		{name: "default TTL clamped to the app maximum", req: token.IssueRequest{AppID: "app-short", Subject: "u"}, wantTTL: time.Hour},
		{name: "TTL exactly the minimum", req: token.IssueRequest{AppID: "app-es", Subject: "u", TTL: 10 * time.Minute}, wantTTL: 10 * time.Minute},
		{name: "TTL one second under the minimum", req: token.IssueRequest{AppID: "app-es", Subject: "u", TTL: 10*time.Minute - time.Second}, want: token.ErrTTLOutOfRange},
		{name: "TTL exactly the maximum", req: token.IssueRequest{AppID: "app-es", Subject: "u", TTL: max}, wantTTL: max},
		{name: "TTL one second over the maximum", req: token.IssueRequest{AppID: "app-es", Subject: "u", TTL: max + time.Second}, want: token.ErrTTLOutOfRange},
		{name: "TTL over an app's own maximum", req: token.IssueRequest{AppID: "app-short", Subject: "u", TTL: time.Hour + time.Second}, want: token.ErrTTLOutOfRange},
		{name: "TTL of an app's own maximum", src: longDefault, req: token.IssueRequest{AppID: "app-es", Subject: "u", TTL: 48 * time.Hour}, wantTTL: 48 * time.Hour},
		{name: "negative TTL", req: token.IssueRequest{AppID: "app-es", Subject: "u", TTL: -time.Hour}, want: token.ErrTTLOutOfRange},
		{name: "sub-second TTL truncated", req: token.IssueRequest{AppID: "app-es", Subject: "u", TTL: 10*time.Minute + 900*time.Millisecond}, wantTTL: 10 * time.Minute},
		{name: "unknown app", req: token.IssueRequest{AppID: "app-nope", Subject: "u"}, want: token.ErrAppNotFound},
		{name: "empty app", req: token.IssueRequest{Subject: "u"}, want: token.ErrAppNotFound},
		{name: "disabled app", req: token.IssueRequest{AppID: "app-off", Subject: "u"}, want: token.ErrAppDisabled},
		{name: "empty subject", req: token.IssueRequest{AppID: "app-es"}, want: token.ErrInvalidSubject},
		{name: "subject of 256 bytes", req: token.IssueRequest{AppID: "app-es", Subject: strings.Repeat("s", 256)}, wantTTL: token.DefaultTTL},
		{name: "subject of 257 bytes", req: token.IssueRequest{AppID: "app-es", Subject: strings.Repeat("s", 257)}, want: token.ErrInvalidSubject},
		{name: "subject not UTF-8", req: token.IssueRequest{AppID: "app-es", Subject: "u\xff"}, want: token.ErrInvalidSubject},
		{name: "negative delay", req: token.IssueRequest{AppID: "app-es", Subject: "u", NotBeforeDelay: -time.Second}, want: token.ErrInvalidNotBefore},
		{name: "delay equal to TTL", req: token.IssueRequest{AppID: "app-es", Subject: "u", TTL: 10 * time.Minute, NotBeforeDelay: 10 * time.Minute}, want: token.ErrInvalidNotBefore},
		{name: "delay rounding up to TTL", req: token.IssueRequest{AppID: "app-es", Subject: "u", TTL: 10 * time.Minute, NotBeforeDelay: 10*time.Minute - time.Millisecond}, want: token.ErrInvalidNotBefore},
		{name: "delay just under TTL", req: token.IssueRequest{AppID: "app-es", Subject: "u", TTL: 10 * time.Minute, NotBeforeDelay: 10*time.Minute - time.Second}, wantTTL: 10 * time.Minute},
		{name: "reserved claim exp", req: token.IssueRequest{AppID: "app-es", Subject: "u", Extra: map[string]any{"exp": 1}}, want: token.ErrClaimReserved},
		{name: "reserved claim aid", req: token.IssueRequest{AppID: "app-es", Subject: "u", Extra: map[string]any{"role": "x", "aid": "app-ed"}}, want: token.ErrClaimReserved},
		{name: "reserved claim sub", req: token.IssueRequest{AppID: "app-es", Subject: "u", Extra: map[string]any{"sub": "admin"}}, want: token.ErrClaimReserved},
		{name: "unencodable claim", req: token.IssueRequest{AppID: "app-es", Subject: "u", Extra: map[string]any{"c": make(chan int)}}, want: token.ErrInvalidClaims},
		{name: "NaN claim", req: token.IssueRequest{AppID: "app-es", Subject: "u", Extra: map[string]any{"n": math.NaN()}}, want: token.ErrInvalidClaims},
		{name: "claims 16 levels deep", req: token.IssueRequest{AppID: "app-es", Subject: "u", Extra: map[string]any{"d": nestedClaim(14)}}, wantTTL: token.DefaultTTL},
		{name: "token just under the size limit", req: token.IssueRequest{AppID: "app-es", Subject: "u", Extra: map[string]any{"blob": strings.Repeat("x", 5000)}}, wantTTL: token.DefaultTTL},
		{name: "token over the size limit", req: token.IssueRequest{AppID: "app-es", Subject: "u", Extra: map[string]any{"blob": strings.Repeat("x", 7000)}}, want: token.ErrInvalidClaims},
		{name: "claims 17 levels deep", req: token.IssueRequest{AppID: "app-es", Subject: "u", Extra: map[string]any{"d": nestedClaim(15)}}, want: token.ErrInvalidClaims},
		{name: "empty audience", req: token.IssueRequest{AppID: "app-es", Subject: "u", Audience: []string{"svc-a", ""}}, want: token.ErrInvalidAudience},
		{name: "audience not UTF-8", req: token.IssueRequest{AppID: "app-es", Subject: "u", Audience: []string{"\xfe"}}, want: token.ErrInvalidAudience},
		{name: "no signing key", src: noSigner, req: token.IssueRequest{AppID: "app-es", Subject: "u"}, want: token.ErrNoSigningKey},
		{name: "signing key without signer", src: nilSigner, req: token.IssueRequest{AppID: "app-es", Subject: "u"}, want: token.ErrNoSigningKey},
		{name: "token would outlive the key", src: shortKey, req: token.IssueRequest{AppID: "app-es", Subject: "u"}, want: token.ErrNoSigningKey},
		{name: "token within the key window", src: shortKey, req: token.IssueRequest{AppID: "app-es", Subject: "u", TTL: 30 * time.Minute}, wantTTL: 30 * time.Minute},
		{name: "signer without kid", src: noKid, req: token.IssueRequest{AppID: "app-es", Subject: "u"}, want: token.ErrNoSigningKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := tc.src
			if src == nil {
				src = f.src
			}
			got, err := token.NewIssuer(src, "tokend-test", token.WithIssuerClock(clockAt(t0))).Issue(tc.req)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Issue error = %v; want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if got.ExpiresAt.Sub(got.IssuedAt) != tc.wantTTL {
				t.Errorf("lifetime = %s, want %s", got.ExpiresAt.Sub(got.IssuedAt), tc.wantTTL)
			}
			res, err := token.NewValidator(src, token.WithClock(clockAt(got.NotBefore))).Validate(got.Token, token.Expect{})
			if err != nil || !res.Valid() {
				t.Fatalf("Validate = %s, %v", describe(res), err)
			}
		})
	}
}

func TestIssueClaims(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := t0.Add(700 * time.Millisecond) // truncated to t0
	iss := token.NewIssuer(f.src, "https://tokend.example", token.WithIssuerClock(clockAt(now)))
	extra := map[string]any{"role": "admin", "n": 3, "nested": map[string]any{"a": []any{1, "x", nil}}, "": "empty name"}
	got, err := iss.Issue(token.IssueRequest{
		AppID: "app-ed", Subject: "user-7", TTL: 20 * time.Minute, NotBeforeDelay: 1500 * time.Millisecond,
		Audience: []string{"svc-a", "svc-b"}, Extra: extra,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.KeyID != "k-ed" || !got.IssuedAt.Equal(t0) || !got.NotBefore.Equal(t0.Add(2*time.Second)) || !got.ExpiresAt.Equal(t0.Add(20*time.Minute)) {
		t.Errorf("Issued = %+v", got)
	}
	if id, err := base64.RawURLEncoding.DecodeString(got.ID); err != nil || len(id) != 16 {
		t.Errorf("jti %q is not 128 bits of base64url: %v", got.ID, err)
	}

	h, c, err := token.Inspect(got.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h, map[string]any{"alg": "EdDSA", "kid": "k-ed", "typ": "JWT"}) {
		t.Errorf("header = %v", h)
	}
	for name, want := range map[string]any{
		"iss": "https://tokend.example", "sub": "user-7", "aid": "app-ed", "jti": got.ID,
		"iat": itoa(t0), "nbf": itoa(t0.Add(2 * time.Second)), "exp": itoa(t0.Add(20 * time.Minute)),
		"aud": []any{"svc-a", "svc-b"}, "role": "admin",
	} {
		gotV := c[name]
		if n, ok := gotV.(interface{ String() string }); ok {
			gotV = n.String() // json.Number: integer NumericDates
		}
		if !reflect.DeepEqual(gotV, want) {
			t.Errorf("claim %s = %#v, want %#v", name, c[name], want)
		}
	}

	v := token.NewValidator(f.src, token.WithClock(clockAt(t0.Add(time.Minute))))
	res, err := v.Validate(got.Token, token.Expect{Audience: "svc-b", AppID: "app-ed"})
	if err != nil || !res.Valid() {
		t.Fatalf("Validate = %s, %v", describe(res), err)
	}
	wantExtra := map[string]any{"role": "admin", "n": 3.0, "nested": map[string]any{"a": []any{1.0, "x", nil}}, "": "empty name"}
	if !reflect.DeepEqual(res.Claims.Extra, wantExtra) {
		t.Errorf("Extra = %#v, want %#v", res.Claims.Extra, wantExtra)
	}
	if res.Claims.Issuer != "https://tokend.example" || res.Claims.ID != got.ID || !res.Claims.NotBefore.Equal(got.NotBefore) {
		t.Errorf("Claims = %+v", res.Claims)
	}
}

func TestIssueAudienceShape(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	iss := token.NewIssuer(f.src, "tokend-test", token.WithIssuerClock(clockAt(t0)))
	for _, tc := range []struct {
		name string
		aud  []string
		want any // nil: absent
	}{
		{"none", nil, nil},
		{"one", []string{"svc-a"}, "svc-a"},
		{"several", []string{"svc-a", "svc-b"}, []any{"svc-a", "svc-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := iss.Issue(token.IssueRequest{AppID: "app-es", Subject: "u", Audience: tc.aud})
			if err != nil {
				t.Fatal(err)
			}
			_, c, err := token.Inspect(got.Token)
			if err != nil {
				t.Fatal(err)
			}
			aud, present := c["aud"]
			if present != (tc.want != nil) || !reflect.DeepEqual(aud, tc.want) && tc.want != nil {
				t.Errorf("aud = %#v (present %v), want %#v", aud, present, tc.want)
			}
		})
	}
}

// TestIssueNotBefore: a token issued with a delay is refused before the
// delay, whatever the leeway, and accepted from it on.
func TestIssueNotBefore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name   string
		delay  time.Duration
		leeway time.Duration
	}{
		{"4s delay without leeway", 4 * time.Second, 0},
		{"4s delay with the default leeway", 4 * time.Second, token.DefaultLeeway},
		{"2m delay with the default leeway", 2 * time.Minute, token.DefaultLeeway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := token.NewIssuer(f.src, "tokend-test", token.WithIssuerClock(clockAt(t0))).
				Issue(token.IssueRequest{AppID: "app-es", Subject: "u", NotBeforeDelay: tc.delay})
			if err != nil {
				t.Fatal(err)
			}
			if !got.NotBefore.Equal(t0.Add(tc.delay)) {
				t.Fatalf("NotBefore = %s, want %s", got.NotBefore, t0.Add(tc.delay))
			}
			for _, step := range []struct {
				at   time.Time
				want token.Reason
			}{
				{t0, token.ReasonNotYetValid},
				{t0.Add(tc.delay - time.Second), token.ReasonNotYetValid},
				{t0.Add(tc.delay - time.Nanosecond), token.ReasonNotYetValid},
				{t0.Add(tc.delay), token.ReasonNone},
			} {
				v := token.NewValidator(f.src, token.WithClock(clockAt(step.at)), token.WithLeeway(tc.leeway))
				res, err := v.Validate(got.Token, token.Expect{})
				if err != nil || res.Reason != step.want {
					t.Errorf("at issue+%s: Validate = %s, %v; want %s", step.at.Sub(t0), describe(res), err, step.want)
				}
			}
		})
	}
}

func TestNewSigningKey(t *testing.T) {
	t.Parallel()
	m := keyMaterial()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   string
		alg  jose.SignatureAlgorithm
		key  crypto.Signer
		ok   bool
	}{
		{"ES256", "k", jose.ES256, m.es, true},
		{"EdDSA", "k", jose.EdDSA, m.ed, true},
		{"EdDSA pointer", "k", jose.EdDSA, &m.ed, true},
		{"RS256", "k", jose.RS256, m.rs, true},
		{"PS256", "k", jose.PS256, m.rs, true},
		{"opaque crypto.Signer", "k", jose.ES256, opaque{m.es}, true},
		{"empty id", "", jose.ES256, m.es, false},
		{"HS256", "k", jose.HS256, m.es, false},
		{"none", "k", "none", m.es, false},
		{"ES384 off the list", "k", jose.ES384, p384, false},
		{"P-384 key for ES256", "k", jose.ES256, p384, false},
		{"EdDSA key for ES256", "k", jose.ES256, m.ed, false},
		{"ECDSA key for RS256", "k", jose.RS256, m.es, false},
		{"RSA 1024", "k", jose.RS256, small, false},
		{"nil", "k", jose.ES256, nil, false},
		{"nil ECDSA pointer", "k", jose.ES256, (*ecdsa.PrivateKey)(nil), false},
		{"short ed25519 key", "k", jose.EdDSA, ed25519.PrivateKey(make([]byte, 10)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sk, err := token.NewSigningKey(tc.id, tc.alg, tc.key, time.Time{})
			if !tc.ok {
				if !errors.Is(err, token.ErrInvalidKey) {
					t.Fatalf("NewSigningKey error = %v; want ErrInvalidKey", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewSigningKey: %v", err)
			}
			jws, err := sk.Signer.Sign([]byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := jws.CompactSerialize()
			if err != nil {
				t.Fatal(err)
			}
			h, _, err := token.Inspect(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h, map[string]any{"alg": string(tc.alg), "kid": tc.id, "typ": "JWT"}) {
				t.Errorf("header = %v", h)
			}
		})
	}
}

// opaque hides the concrete type of a key, like an HSM or KMS signer.
type opaque struct{ crypto.Signer }

// nestedClaim is a claim value of depth arrays nested in one another; in
// a payload it nests depth + 2 levels deep (the payload object, then an
// object around the innermost value).
func nestedClaim(depth int) any {
	var v any = map[string]any{"leaf": true}
	for range depth {
		v = []any{v}
	}
	return v
}
