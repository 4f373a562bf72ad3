package server_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/servertest"
)

var jwtMethods = map[string]jwt.SigningMethod{
	"ES256": jwt.SigningMethodES256, "EdDSA": jwt.SigningMethodEdDSA,
	"RS256": jwt.SigningMethodRS256, "PS256": jwt.SigningMethodPS256,
}

// backendToken signs a token the way an app's backend does, with an
// independent JWT library.
func backendToken(t *testing.T, method jwt.SigningMethod, key any, kid, appID string, iat time.Time, life time.Duration) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, jwt.MapClaims{
		"iat": iat.Unix(), "nbf": iat.Unix(), "exp": iat.Add(life).Unix(), "sub": "backend-user", "aid": appID,
	})
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// validate returns the reason of a ValidateToken answer (UNSPECIFIED when
// valid).
func validate(t *testing.T, c *client.Client, tok string) tokendv1.InvalidReason {
	t.Helper()
	v, err := c.ValidateToken(t.Context(), &tokendv1.ValidateTokenRequest{Token: tok})
	if err != nil {
		t.Fatalf("ValidateToken: %v", err)
	}
	if v.GetValid() != (v.GetReason() == tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED) {
		t.Fatalf("ValidateToken: valid=%v with reason %v", v.GetValid(), v.GetReason())
	}
	return v.GetReason()
}

func issue(t *testing.T, c *client.Client, appID string, ttl time.Duration) *tokendv1.IssueTokenResponse {
	t.Helper()
	resp, err := c.IssueToken(t.Context(), &tokendv1.IssueTokenRequest{AppId: appID, Subject: "user", Ttl: durationpb.New(ttl)})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	return resp
}

func keyStates(t *testing.T, c *client.Client, appID string) map[string]tokendv1.KeyState {
	t.Helper()
	resp, err := c.ListAppKeys(t.Context(), &tokendv1.ListAppKeysRequest{AppId: appID})
	if err != nil {
		t.Fatalf("ListAppKeys: %v", err)
	}
	out := map[string]tokendv1.KeyState{}
	for _, k := range resp.GetKeys() {
		out[k.GetKeyId()] = k.GetState()
	}
	return out
}

// jwksKIDs fetches an app's JWKS over HTTP and returns its kids with the
// ETag.
func jwksOverHTTP(t *testing.T, h *servertest.Harness, appID, ifNoneMatch string) (kids []string, etag string, status int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+h.Server.HTTPAddr()+"/v1/apps/"+appID+"/jwks.json", nil)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids, resp.Header.Get("ETag"), resp.StatusCode
}

func TestTokenAlgorithmMustBeTheKeys(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	hs256 := jwt.SigningMethodHS256
	tests := []struct {
		appAlg string
		method jwt.SigningMethod
		// key returns what method signs with, from the app's key.
		key func(priv crypto.Signer, jwk string) any
	}{
		{"RS256", jwt.SigningMethodPS256, func(p crypto.Signer, _ string) any { return p }},
		{"PS256", jwt.SigningMethodRS256, func(p crypto.Signer, _ string) any { return p }},
		// The classic confusion: HMAC keyed with the public key.
		{"ES256", hs256, func(_ crypto.Signer, jwk string) any { return []byte(jwk) }},
		{"RS256", hs256, func(p crypto.Signer, _ string) any {
			der, _ := x509.MarshalPKIXPublicKey(p.Public())
			return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		}},
		{"EdDSA", jwt.SigningMethodES256, func(crypto.Signer, string) any {
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			return k
		}},
	}
	for _, tt := range tests {
		t.Run(tt.appAlg+" key, "+tt.method.Alg()+" header", func(t *testing.T) {
			t.Parallel()
			created := createApp(t, h.Admin, tt.appAlg)
			priv := parsePKCS8(t, created.GetPrivateKeyPem())
			key := tt.key(priv, created.GetKey().GetPublicJwk())
			for _, kid := range []string{created.GetKey().GetKeyId(), ""} {
				tok := backendToken(t, tt.method, key, kid, created.GetApp().GetAppId(), time.Now(), 15*time.Minute)
				if got := validate(t, h.Admin, tok); got != tokendv1.InvalidReason_INVALID_REASON_UNSUPPORTED_ALGORITHM {
					t.Errorf("kid=%q: reason %v, want UNSUPPORTED_ALGORITHM", kid, got)
				}
			}
			// The right algorithm with the same key validates.
			right := backendToken(t, jwtMethods[tt.appAlg], priv, created.GetKey().GetKeyId(), created.GetApp().GetAppId(), time.Now(), 15*time.Minute)
			if got := validate(t, h.Admin, right); got != tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED {
				t.Errorf("the key's own algorithm: %v, want valid", got)
			}
		})
	}
}

// The whole rotation timeline on an injected clock: the next key is in the
// JWKS a max-age before it signs; tokens signed with the old key validate
// until it retires, then answer UNKNOWN_KEY.
func TestRotationTimeline(t *testing.T) {
	t.Parallel()
	t0 := time.Now().UTC().Truncate(time.Second)
	clock := servertest.NewClock(t0)
	h := servertest.Start(t, servertest.WithClock(clock.Now),
		servertest.WithConfig(func(c *server.Config) { c.KeyCheckInterval = 10 * time.Millisecond }))
	ctx := t.Context()
	created, err := h.Admin.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "shop", Algorithm: "RS256", MaxTokenTtl: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	appID, k1 := created.GetApp().GetAppId(), created.GetKey().GetKeyId()
	oldPriv := parsePKCS8(t, created.GetPrivateKeyPem())
	before := issue(t, h.Admin, appID, time.Hour)
	kids, etag1, _ := jwksOverHTTP(t, h, appID, "")
	if !slices.Equal(kids, []string{k1}) {
		t.Fatalf("JWKS before rotation = %v", kids)
	}

	rot, err := h.Admin.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: appID})
	if err != nil {
		t.Fatal(err)
	}
	k2 := rot.GetKey().GetKeyId()
	maxAge := h.Config.JWKSMaxAge
	activation := t0.Add(maxAge)
	if rot.GetWarning() != "" || rot.GetKey().GetState() != tokendv1.KeyState_KEY_STATE_NEXT ||
		!rot.GetKey().GetActivatesAt().AsTime().Equal(activation) || rot.GetKey().GetAlgorithm() != "RS256" {
		t.Fatalf("rotation: %v, want a next RS256 key activating after the JWKS max-age (%s), no warning", rot, maxAge)
	}

	// Published before it signs, over HTTP with a new ETag and over gRPC.
	kids, etag2, _ := jwksOverHTTP(t, h, appID, etag1)
	if !sameKIDs(kids, k1, k2) || etag2 == etag1 {
		t.Errorf("JWKS after rotation: %v etag %s (was %s); want both keys and a new ETag", kids, etag2, etag1)
	}
	if _, _, status := jwksOverHTTP(t, h, appID, etag2); status != http.StatusNotModified {
		t.Errorf("If-None-Match with the new ETag: %d, want 304", status)
	}
	grpcJWKS, err := h.Admin.GetJWKS(ctx, &tokendv1.GetJWKSRequest{AppId: appID})
	if err != nil || !strings.Contains(grpcJWKS.GetJwksJson(), k2) {
		t.Errorf("GetJWKS lacks the next key: %v, %v", grpcJWKS, err)
	}
	if got := issue(t, h.Admin, appID, time.Hour).GetKeyId(); got != k1 {
		t.Errorf("issued before activation with %s, want the old key %s", got, k1)
	}
	if st := keyStates(t, h.Admin, appID); st[k1] != tokendv1.KeyState_KEY_STATE_ACTIVE || st[k2] != tokendv1.KeyState_KEY_STATE_NEXT {
		t.Errorf("key states before activation: %v", st)
	}

	// Activation.
	clock.Set(activation)
	if got := issue(t, h.Admin, appID, time.Hour).GetKeyId(); got != k2 {
		t.Errorf("issued after activation with %s, want the new key %s", got, k2)
	}
	retire := activation.Add(time.Hour + h.Config.Leeway)
	keysResp, err := h.Admin.ListAppKeys(ctx, &tokendv1.ListAppKeysRequest{AppId: appID})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keysResp.GetKeys() {
		switch k.GetKeyId() {
		case k1:
			if k.GetState() != tokendv1.KeyState_KEY_STATE_VERIFY_ONLY || !k.GetVerifyUntil().AsTime().Equal(retire) {
				t.Errorf("old key after activation: %v until %v, want verify-only until %s", k.GetState(), k.GetVerifyUntil().AsTime(), retire)
			}
		case k2:
			if k.GetState() != tokendv1.KeyState_KEY_STATE_ACTIVE {
				t.Errorf("new key after activation: %v", k.GetState())
			}
		}
	}
	if got := validate(t, h.Admin, before.GetAccessToken()); got != tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED {
		t.Errorf("token signed before the rotation, after activation: %v, want valid", got)
	}

	// The backend still signs with the old (downloaded) key for a while.
	late := backendToken(t, jwt.SigningMethodRS256, oldPriv, k1, appID, activation.Add(25*time.Minute), 50*time.Minute)
	clock.Set(retire.Add(-time.Second))
	if got := validate(t, h.Admin, late); got != tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED {
		t.Errorf("old-key token just before retirement: %v, want valid", got)
	}
	if kids, _, _ := jwksOverHTTP(t, h, appID, ""); !sameKIDs(kids, k1, k2) {
		t.Errorf("JWKS just before retirement = %v, want both keys", kids)
	}

	// Retirement.
	clock.Set(retire)
	if got := validate(t, h.Admin, late); got != tokendv1.InvalidReason_INVALID_REASON_UNKNOWN_KEY {
		t.Errorf("old-key token after retirement: %v, want UNKNOWN_KEY", got)
	}
	if kids, _, _ := jwksOverHTTP(t, h, appID, ""); !slices.Equal(kids, []string{k2}) {
		t.Errorf("JWKS after retirement = %v, want the new key only", kids)
	}
	if st := keyStates(t, h.Admin, appID); len(st) != 1 || st[k2] != tokendv1.KeyState_KEY_STATE_ACTIVE {
		t.Errorf("keys after retirement: %v, want the new key only, active", st)
	}
}

func sameKIDs(got []string, want ...string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func TestRotationActivationDelay(t *testing.T) {
	t.Parallel()
	t0 := time.Now().UTC().Truncate(time.Second)
	clock := servertest.NewClock(t0)
	h := servertest.Start(t, servertest.WithClock(clock.Now))
	ctx := t.Context()
	created := createApp(t, h.Admin, "ES256")
	appID := created.GetApp().GetAppId()
	tests := []struct {
		name    string
		delay   *durationpb.Duration
		alg     string
		signs   bool // the new key signs at once
		warning bool
	}{
		{"zero: at once, with a warning", durationpb.New(0), "EdDSA", true, true},
		{"shorter than the max-age: warning", durationpb.New(time.Minute), "", false, true},
		{"the max-age: no warning", durationpb.New(h.Config.JWKSMaxAge), "PS256", false, false},
	}
	for _, tt := range tests { // in order on one app
		clock.Set(t0)
		rot, err := h.Admin.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: appID, Algorithm: tt.alg, ActivationDelay: tt.delay})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if (rot.GetWarning() != "") != tt.warning {
			t.Errorf("%s: warning %q", tt.name, rot.GetWarning())
		}
		signs := issue(t, h.Admin, appID, 15*time.Minute).GetKeyId() == rot.GetKey().GetKeyId()
		if signs != tt.signs {
			t.Errorf("%s: the new key signs at once = %v, want %v", tt.name, signs, tt.signs)
		}
		t0 = t0.Add(time.Hour) // let it activate before the next row
		clock.Set(t0)
	}
	if _, err := h.Admin.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: appID, ActivationDelay: durationpb.New(-time.Second)}); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("negative delay: %v, want ErrInvalidArgument", err)
	}
	if _, err := h.Admin.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: appID, Algorithm: "HS256"}); !errors.Is(err, client.ErrUnsupportedAlgorithm) {
		t.Errorf("HS256: %v, want ErrUnsupportedAlgorithm", err)
	}
}

// A key never signs a token whose exp outlives the key's own verification
// window: during the pre-publication of a rotation, raising the app's max
// TTL does not let the old key sign longer tokens.
func TestOldKeyNeverSignsPastItsWindow(t *testing.T) {
	t.Parallel()
	clock := servertest.NewClock(time.Now().UTC().Truncate(time.Second))
	h := servertest.Start(t, servertest.WithClock(clock.Now))
	ctx := t.Context()
	created, err := h.Admin.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "shop", MaxTokenTtl: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	appID := created.GetApp().GetAppId()
	if _, err := h.Admin.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: appID}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Admin.UpdateApp(ctx, &tokendv1.UpdateAppRequest{AppId: appID, MaxTokenTtl: durationpb.New(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * time.Minute)
	if got := issue(t, h.Admin, appID, time.Hour).GetKeyId(); got != created.GetKey().GetKeyId() {
		t.Fatalf("1h token signed with %s, want the old key", got)
	}
	_, err = h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s", Ttl: durationpb.New(2 * time.Hour)})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != codes.FailedPrecondition || !errors.Is(err, client.ErrNoSigningKey) {
		t.Errorf("2h token from the old key: %v, want FAILED_PRECONDITION NO_SIGNING_KEY", err)
	}
	clock.Advance(time.Minute) // the new key signs: its window is open
	if _, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s", Ttl: durationpb.New(2 * time.Hour)}); err != nil {
		t.Errorf("2h token from the new key: %v", err)
	}
}

func TestRevokeAppKey(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := t.Context()
	created := createApp(t, h.Admin, "EdDSA")
	appID, k1 := created.GetApp().GetAppId(), created.GetKey().GetKeyId()
	other := createApp(t, h.Admin, "ES256")
	tok := issue(t, h.Admin, appID, 15*time.Minute)
	rot, err := h.Admin.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: appID})
	if err != nil {
		t.Fatal(err)
	}
	k2 := rot.GetKey().GetKeyId()
	_, etag, _ := jwksOverHTTP(t, h, appID, "")

	resp, err := h.Admin.RevokeAppKey(ctx, &tokendv1.RevokeAppKeyRequest{AppId: appID, KeyId: k1, Reason: "laptop stolen"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetKey().GetKeyId() != k1 || resp.GetKey().GetState() != tokendv1.KeyState_KEY_STATE_RETIRED {
		t.Errorf("RevokeAppKey answer: %v", resp.GetKey())
	}
	if got := validate(t, h.Admin, tok.GetAccessToken()); got != tokendv1.InvalidReason_INVALID_REASON_UNKNOWN_KEY {
		t.Errorf("token of the revoked key: %v, want UNKNOWN_KEY", got)
	}
	backend := backendToken(t, jwt.SigningMethodEdDSA, parsePKCS8(t, created.GetPrivateKeyPem()), "", appID, time.Now(), 15*time.Minute)
	if got := validate(t, h.Admin, backend); got == tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED {
		t.Error("a kid-less token of the revoked key still validates")
	}
	if got := issue(t, h.Admin, appID, 15*time.Minute).GetKeyId(); got != k2 {
		t.Errorf("after revoking the signing key, issued with %s, want the published next key %s", got, k2)
	}
	kids, etag2, _ := jwksOverHTTP(t, h, appID, etag)
	if !slices.Equal(kids, []string{k2}) || etag2 == etag {
		t.Errorf("JWKS after revocation: %v (etag changed: %v)", kids, etag2 != etag)
	}
	if st := keyStates(t, h.Admin, appID); len(st) != 1 {
		t.Errorf("ListAppKeys after revocation: %v", st)
	}
	if !strings.Contains(h.Logs.String(), "laptop stolen") {
		t.Error("the revocation and its reason were not logged")
	}

	validator, err := h.Admin.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: "v", Roles: []string{"validator"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		c    *client.Client
		req  *tokendv1.RevokeAppKeyRequest
		want error
	}{
		{"unknown key", h.Admin, &tokendv1.RevokeAppKeyRequest{AppId: appID, KeyId: "k_nope"}, client.ErrKeyNotFound},
		{"key of another app", h.Admin, &tokendv1.RevokeAppKeyRequest{AppId: appID, KeyId: other.GetKey().GetKeyId()}, client.ErrKeyNotFound},
		{"unknown app", h.Admin, &tokendv1.RevokeAppKeyRequest{AppId: "app_nope", KeyId: k2}, client.ErrAppNotFound},
		{"no key id", h.Admin, &tokendv1.RevokeAppKeyRequest{AppId: appID}, client.ErrInvalidArgument},
		{"not an admin", h.Client(t, validator.GetApiKey()), &tokendv1.RevokeAppKeyRequest{AppId: appID, KeyId: k2}, client.ErrRoleDenied},
	} {
		_, err := tt.c.RevokeAppKey(ctx, tt.req)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	var e *client.Error
	if _, err := h.Admin.RevokeAppKey(ctx, &tokendv1.RevokeAppKeyRequest{AppId: appID, KeyId: "k_nope"}); !errors.As(err, &e) || e.Code != codes.NotFound {
		t.Errorf("unknown key: %v, want NOT_FOUND", err)
	}
	if got := validate(t, h.Admin, issue(t, h.Admin, other.GetApp().GetAppId(), 15*time.Minute).GetAccessToken()); got != tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED {
		t.Errorf("the other app's token: %v, want valid", got)
	}
}

func TestRegisterAppKey(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := t.Context()
	gen := map[string]func() crypto.Signer{
		"ES256": func() crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k },
		"EdDSA": func() crypto.Signer { _, k, _ := ed25519.GenerateKey(rand.Reader); return k },
		"RS256": func() crypto.Signer { k, _ := rsa.GenerateKey(rand.Reader, 2048); return k },
		"PS256": func() crypto.Signer { k, _ := rsa.GenerateKey(rand.Reader, 3072); return k },
	}
	for alg, newKey := range gen {
		for _, format := range []string{"PEM", "JWK"} {
			t.Run(alg+" "+format, func(t *testing.T) {
				t.Parallel()
				created := createApp(t, h.Admin, "")
				appID := created.GetApp().GetAppId()
				priv := newKey()
				var text string
				if format == "PEM" {
					der, _ := x509.MarshalPKIXPublicKey(priv.Public())
					text = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
				} else {
					b, _ := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: "their-own-kid", Use: "sig"})
					text = string(b)
				}
				reg, err := h.Admin.RegisterAppKey(ctx, &tokendv1.RegisterAppKeyRequest{AppId: appID, Algorithm: alg, PublicKey: text})
				if err != nil {
					t.Fatalf("RegisterAppKey: %v", err)
				}
				kid := reg.GetKey().GetKeyId()
				if reg.GetKey().GetState() != tokendv1.KeyState_KEY_STATE_ACTIVE || reg.GetKey().GetAlgorithm() != alg || kid == "their-own-kid" {
					t.Errorf("registered key: %v", reg.GetKey())
				}
				tok := backendToken(t, jwtMethods[alg], priv, kid, appID, time.Now(), 20*time.Minute)
				if got := validate(t, h.Admin, tok); got != tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED {
					t.Errorf("backend token of the registered key: %v, want valid", got)
				}
				noKid := backendToken(t, jwtMethods[alg], priv, "", appID, time.Now(), 20*time.Minute)
				if got := validate(t, h.Admin, noKid); got != tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED {
					t.Errorf("kid-less backend token of the registered key: %v, want valid", got)
				}
				// Verifiable from the JWKS with an independent library.
				jwks, err := h.Admin.GetJWKS(ctx, &tokendv1.GetJWKSRequest{AppId: appID})
				if err != nil {
					t.Fatal(err)
				}
				pubs := jwksKeys(t, jwks.GetJwksJson())
				if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pubs[kid], nil }, jwt.WithValidMethods([]string{alg})); err != nil {
					t.Errorf("independent verification from the JWKS: %v", err)
				}
				// tokend never signs with it.
				if got := issue(t, h.Admin, appID, 15*time.Minute).GetKeyId(); got != created.GetKey().GetKeyId() {
					t.Errorf("tokend signed with %s, want its own key", got)
				}
				if _, err := h.Admin.RegisterAppKey(ctx, &tokendv1.RegisterAppKeyRequest{AppId: appID, Algorithm: alg, PublicKey: text}); !errors.Is(err, client.ErrAlreadyExists) {
					t.Errorf("registering it twice: %v, want ErrAlreadyExists", err)
				}
				if _, err := h.Admin.RevokeAppKey(ctx, &tokendv1.RevokeAppKeyRequest{AppId: appID, KeyId: kid}); err != nil {
					t.Fatal(err)
				}
				if got := validate(t, h.Admin, tok); got != tokendv1.InvalidReason_INVALID_REASON_UNKNOWN_KEY {
					t.Errorf("token of the revoked registered key: %v, want UNKNOWN_KEY", got)
				}
			})
		}
	}

	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		appID := createApp(t, h.Admin, "").GetApp().GetAppId()
		ec := gen["ES256"]()
		der, _ := x509.MarshalPKIXPublicKey(ec.Public())
		pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		privDER, _ := x509.MarshalPKCS8PrivateKey(ec)
		privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
		small, _ := rsa.GenerateKey(rand.Reader, 1024)
		smallDER, _ := x509.MarshalPKIXPublicKey(small.Public())
		smallPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER}))
		for _, tt := range []struct {
			name, alg, key string
			want           error
			field          string
		}{
			{"private key", "ES256", privPEM, client.ErrInvalidArgument, "public_key"},
			{"no algorithm", "", pubPEM, client.ErrInvalidArgument, "algorithm"},
			{"HMAC algorithm", "HS256", pubPEM, client.ErrUnsupportedAlgorithm, "algorithm"},
			{"key does not fit the algorithm", "EdDSA", pubPEM, client.ErrInvalidArgument, "public_key"},
			{"RSA of 1024 bits", "RS256", smallPEM, client.ErrInvalidArgument, "public_key"},
			{"no key", "ES256", "", client.ErrInvalidArgument, "public_key"},
		} {
			_, err := h.Admin.RegisterAppKey(ctx, &tokendv1.RegisterAppKeyRequest{AppId: appID, Algorithm: tt.alg, PublicKey: tt.key})
			var e *client.Error
			if !errors.Is(err, tt.want) || !errors.As(err, &e) || e.Metadata["field"] != tt.field {
				t.Errorf("%s: %v, want %v on field %s", tt.name, err, tt.want, tt.field)
			}
			if e != nil && strings.Contains(e.Message, strings.Split(privPEM, "\n")[1]) {
				t.Errorf("%s: the error repeats the private key", tt.name)
			}
		}
		if _, err := h.Admin.RegisterAppKey(ctx, &tokendv1.RegisterAppKeyRequest{AppId: "app_nope", Algorithm: "ES256", PublicKey: pubPEM}); !errors.Is(err, client.ErrAppNotFound) {
			t.Errorf("unknown app: %v, want ErrAppNotFound", err)
		}
		if strings.Contains(h.Logs.String(), strings.Split(privPEM, "\n")[1]) {
			t.Error("the logs hold the pasted private key")
		}
	})
}

// Scheduled rotation by the server's own maintainer loop, on an injected
// clock.
func TestScheduledRotationByTheServer(t *testing.T) {
	t.Parallel()
	t0 := time.Now().UTC().Truncate(time.Second)
	clock := servertest.NewClock(t0)
	h := servertest.Start(t, servertest.WithClock(clock.Now),
		servertest.WithConfig(func(c *server.Config) { c.KeyCheckInterval = 10 * time.Millisecond }))
	ctx := t.Context()
	created, err := h.Admin.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "auto", Algorithm: "EdDSA", KeyRotationPeriod: durationpb.New(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	appID, k1 := created.GetApp().GetAppId(), created.GetKey().GetKeyId()

	clock.Set(t0.Add(24 * time.Hour))
	var next *tokendv1.AppKey
	for deadline := time.Now().Add(10 * time.Second); next == nil; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server did not rotate the key on schedule")
		}
		resp, err := h.Admin.ListAppKeys(ctx, &tokendv1.ListAppKeysRequest{AppId: appID})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range resp.GetKeys() {
			if k.GetKeyId() != k1 {
				next = k
			}
		}
	}
	if next.GetState() != tokendv1.KeyState_KEY_STATE_NEXT || next.GetAlgorithm() != "EdDSA" ||
		!next.GetActivatesAt().AsTime().Equal(t0.Add(24*time.Hour+h.Config.JWKSMaxAge)) {
		t.Errorf("scheduled key: %v, want next EdDSA activating after the JWKS max-age", next)
	}
	if got := issue(t, h.Admin, appID, 15*time.Minute).GetKeyId(); got != k1 {
		t.Errorf("issued with %s before activation, want %s", got, k1)
	}
	clock.Advance(h.Config.JWKSMaxAge)
	if got := issue(t, h.Admin, appID, 15*time.Minute).GetKeyId(); got != next.GetKeyId() {
		t.Errorf("issued with %s after activation, want %s", got, next.GetKeyId())
	}
	if !strings.Contains(h.Logs.String(), "app key rotated automatically") {
		t.Error("the automatic rotation was not logged")
	}
	if st := keyStates(t, h.Admin, appID); len(st) != 2 {
		t.Errorf("keys after one period: %v, want 2", st)
	}
}

func TestJWKSMaxAgeStaysBelowTheRotationOverlap(t *testing.T) {
	t.Parallel()
	cfg := server.DefaultConfig()
	cfg.JWKSMaxAge = 11 * time.Minute
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "jwks-max-age") {
		t.Errorf("max-age 11m: %v, want an error naming jwks-max-age", err)
	}
	cfg.JWKSMaxAge = server.MaxJWKSMaxAge
	if err := cfg.Validate(); err != nil {
		t.Errorf("max-age %s: %v", server.MaxJWKSMaxAge, err)
	}
	// The shortest overlap: an app with the smallest max TTL.
	h := servertest.Start(t)
	created, err := h.Admin.CreateApp(t.Context(), &tokendv1.CreateAppRequest{Name: "short", MaxTokenTtl: durationpb.New(10 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + h.Server.HTTPAddr() + "/v1/apps/" + created.GetApp().GetAppId() + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var maxAge int
	for _, part := range strings.Split(resp.Header.Get("Cache-Control"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "max-age="); ok {
			if err := json.Unmarshal([]byte(v), &maxAge); err != nil {
				t.Fatal(err)
			}
		}
	}
	if overlap := 10*time.Minute + h.Config.Leeway; maxAge <= 0 || time.Duration(maxAge)*time.Second >= overlap {
		t.Errorf("Cache-Control %q: max-age must be positive and below the shortest overlap %s", resp.Header.Get("Cache-Control"), overlap)
	}
}
