package server_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/servertest"
)

func createApp(t *testing.T, c *client.Client, alg string) *tokendv1.CreateAppResponse {
	t.Helper()
	resp, err := c.CreateApp(t.Context(), &tokendv1.CreateAppRequest{Name: "shop", Region: "eu-west-1", Algorithm: alg})
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	return resp
}

func parsePKCS8(t *testing.T, pemText string) crypto.Signer {
	t.Helper()
	block, _ := pem.Decode([]byte(pemText))
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("private key is not a PKCS#8 PEM block: %q", pemText)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("ParsePKCS8PrivateKey: %v", err)
	}
	return k.(crypto.Signer)
}

// jwksKeys decodes a JWK Set with the standard library only (no go-jose),
// so that verification below is independent of tokend's JOSE library.
func jwksKeys(t *testing.T, jwks string) map[string]crypto.PublicKey {
	t.Helper()
	var set struct {
		Keys []struct{ Kty, Crv, X, Y, N, E, Kid, Alg, Use string } `json:"keys"`
	}
	if err := json.Unmarshal([]byte(jwks), &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	b64 := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("JWK coordinate %q: %v", s, err)
		}
		return b
	}
	out := map[string]crypto.PublicKey{}
	for _, k := range set.Keys {
		if k.Use != "sig" || k.Kid == "" || k.Alg == "" {
			t.Errorf("JWK %+v lacks use/kid/alg", k)
		}
		switch {
		case k.Kty == "EC" && k.Crv == "P-256":
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, b64(k.X)...), b64(k.Y)...))
			if err != nil {
				t.Fatalf("JWK %+v: %v", k, err)
			}
			out[k.Kid] = pub
		case k.Kty == "OKP" && k.Crv == "Ed25519":
			out[k.Kid] = ed25519.PublicKey(b64(k.X))
		case k.Kty == "RSA":
			out[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(b64(k.N)), E: int(new(big.Int).SetBytes(b64(k.E)).Int64())}
		default:
			t.Fatalf("unexpected JWK %+v", k)
		}
	}
	return out
}

func TestWalkthrough(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"", "ES256", "EdDSA", "RS256", "PS256"} {
		t.Run("alg="+alg, func(t *testing.T) {
			t.Parallel()
			h := servertest.Start(t)
			ctx := t.Context()
			created := createApp(t, h.Admin, alg)
			appID, kid := created.GetApp().GetAppId(), created.GetKey().GetKeyId()
			if want := map[string]string{"": "ES256"}[alg]; want != "" && created.GetKey().GetAlgorithm() != want {
				t.Errorf("default algorithm = %q, want %q", created.GetKey().GetAlgorithm(), want)
			}
			if created.GetKey().GetState() != tokendv1.KeyState_KEY_STATE_ACTIVE {
				t.Errorf("first key state = %v, want active", created.GetKey().GetState())
			}
			priv := parsePKCS8(t, created.GetPrivateKeyPem())

			extra, _ := structpb.NewStruct(map[string]any{"role": "buyer", "tier": 3})
			issued, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{
				AppId: appID, Subject: "user-42", Ttl: durationpb.New(15 * time.Minute),
				Audience: []string{"orders"}, Claims: extra,
			})
			if err != nil {
				t.Fatalf("IssueToken: %v", err)
			}
			if issued.GetKeyId() != kid || issued.GetTokenId() == "" {
				t.Errorf("issued key_id=%q token_id=%q, want key %q and a token id", issued.GetKeyId(), issued.GetTokenId(), kid)
			}
			if got := time.Until(issued.GetExpiresAt().AsTime()); got < 14*time.Minute || got > 16*time.Minute {
				t.Errorf("expires in %s, want ~15m", got)
			}

			v, err := h.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken(), Audience: "orders", AppId: appID})
			if err != nil {
				t.Fatalf("ValidateToken: %v", err)
			}
			if !v.GetValid() || v.GetKeyId() != kid {
				t.Fatalf("ValidateToken = %v", v)
			}
			cl := v.GetClaims()
			if cl.GetSubject() != "user-42" || cl.GetAppId() != appID || cl.GetIssuer() != "tokend" ||
				cl.GetTokenId() != issued.GetTokenId() || cl.GetExtra().GetFields()["role"].GetStringValue() != "buyer" {
				t.Errorf("claims = %v", cl)
			}

			// The app's own backend signs with the downloaded key, with an
			// independent JWT library, with and without kid.
			method := map[string]jwt.SigningMethod{
				"": jwt.SigningMethodES256, "ES256": jwt.SigningMethodES256, "EdDSA": jwt.SigningMethodEdDSA,
				"RS256": jwt.SigningMethodRS256, "PS256": jwt.SigningMethodPS256,
			}[alg]
			for _, withKid := range []bool{true, false} {
				now := time.Now()
				tok := jwt.NewWithClaims(method, jwt.MapClaims{
					"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(20 * time.Minute).Unix(), "sub": "backend-user", "aid": appID,
				})
				if withKid {
					tok.Header["kid"] = kid
				}
				signed, err := tok.SignedString(priv)
				if err != nil {
					t.Fatalf("sign: %v", err)
				}
				v, err := h.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: signed})
				if err != nil {
					t.Fatalf("ValidateToken(backend token): %v", err)
				}
				if !v.GetValid() || v.GetClaims().GetSubject() != "backend-user" {
					t.Errorf("backend token (kid=%v): %v", withKid, v)
				}
			}

			// A 30-day token from the backend is refused.
			long := jwt.NewWithClaims(method, jwt.MapClaims{
				"iat": time.Now().Unix(), "exp": time.Now().Add(30 * 24 * time.Hour).Unix(), "sub": "x", "aid": appID,
			})
			long.Header["kid"] = kid
			signed, _ := long.SignedString(priv)
			v, err = h.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: signed})
			if err != nil || v.GetValid() || v.GetReason() != tokendv1.InvalidReason_INVALID_REASON_LIFETIME_TOO_LONG {
				t.Errorf("30-day token: %v, %v; want LIFETIME_TOO_LONG", v, err)
			}
			if !errors.Is(client.InvalidTokenError(v), client.ErrLifetimeTooLong) {
				t.Errorf("InvalidTokenError = %v, want ErrLifetimeTooLong", client.InvalidTokenError(v))
			}

			// The JWKS (gRPC and HTTP) verifies the token with the
			// independent library.
			jwks, err := h.Admin.GetJWKS(ctx, &tokendv1.GetJWKSRequest{AppId: appID})
			if err != nil {
				t.Fatalf("GetJWKS: %v", err)
			}
			httpJWKS := httpGet(t, "http://"+h.Server.HTTPAddr()+"/v1/apps/"+appID+"/jwks.json", http.StatusOK)
			for name, set := range map[string]string{"grpc": jwks.GetJwksJson(), "http": httpJWKS} {
				pubs := jwksKeys(t, set)
				parsed, err := jwt.Parse(issued.GetAccessToken(), func(tk *jwt.Token) (any, error) {
					return pubs[tk.Header["kid"].(string)], nil
				}, jwt.WithValidMethods([]string{method.Alg()}), jwt.WithAudience("orders"))
				if err != nil || !parsed.Valid {
					t.Errorf("%s JWKS: independent verification failed: %v", name, err)
				}
				if typ := parsed.Header["typ"]; typ != "JWT" {
					t.Errorf("typ header = %v, want JWT", typ)
				}
			}
		})
	}
}

func httpGet(t *testing.T, url string, wantCode int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantCode {
		t.Fatalf("GET %s = %d, want %d: %s", url, resp.StatusCode, wantCode, b)
	}
	return string(b)
}

func TestJWKSOverHTTPCaching(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	created := createApp(t, h.Admin, "")
	url := "http://" + h.Server.HTTPAddr() + "/v1/apps/" + created.GetApp().GetAppId() + "/jwks.json"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag, cc := resp.Header.Get("ETag"), resp.Header.Get("Cache-Control")
	if etag == "" || !strings.Contains(cc, "max-age=300") {
		t.Fatalf("ETag=%q Cache-Control=%q", etag, cc)
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
	all := httpGet(t, "http://"+h.Server.HTTPAddr()+"/.well-known/jwks.json", http.StatusOK)
	if !strings.Contains(all, created.GetKey().GetKeyId()) {
		t.Errorf("/.well-known/jwks.json lacks the app key: %s", all)
	}
	httpGet(t, "http://"+h.Server.HTTPAddr()+"/v1/apps/app_nope/jwks.json", http.StatusNotFound)
	httpGet(t, "http://"+h.Server.HTTPAddr()+"/healthz", http.StatusOK)
	httpGet(t, "http://"+h.Server.HTTPAddr()+"/readyz", http.StatusOK)
	if m := httpGet(t, "http://"+h.Server.HTTPAddr()+"/metrics", http.StatusOK); !strings.Contains(m, "grpc_server_handled_total") {
		t.Errorf("/metrics lacks grpc_server_handled_total")
	}
}

func TestRestartKeepsAppsKeysAndTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := servertest.Start(t, servertest.WithDataDir(dir))
	created := createApp(t, h.Admin, "EdDSA")
	issued, err := h.Admin.IssueToken(t.Context(), &tokendv1.IssueTokenRequest{AppId: created.GetApp().GetAppId(), Subject: "s"})
	if err != nil {
		t.Fatal(err)
	}
	h.Stop()

	h2 := servertest.Start(t, servertest.WithDataDir(dir))
	ctx := t.Context()
	got, err := h2.Admin.GetApp(ctx, &tokendv1.GetAppRequest{AppId: created.GetApp().GetAppId()})
	if err != nil || got.GetApp().GetName() != "shop" {
		t.Fatalf("GetApp after restart: %v, %v", got, err)
	}
	v, err := h2.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken()})
	if err != nil || !v.GetValid() {
		t.Fatalf("token issued before restart: %v, %v", v, err)
	}
	again, err := h2.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: created.GetApp().GetAppId(), Subject: "s"})
	if err != nil || again.GetKeyId() != created.GetKey().GetKeyId() {
		t.Fatalf("IssueToken after restart: %v, %v (want the same key)", again, err)
	}
}

func TestWrongKEKRefusesToStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := servertest.Start(t, servertest.WithDataDir(dir))
	createApp(t, h.Admin, "")
	h.Stop()
	cfg := h.Config
	cfg.KEK = base64.StdEncoding.EncodeToString(make([]byte, 32))
	cfg.GRPCListen, cfg.HTTPListen = "127.0.0.1:0", "127.0.0.1:0"
	if _, err := newServer(t, cfg); err == nil || !strings.Contains(err.Error(), "KEK") {
		t.Fatalf("start with another KEK: %v, want a KEK error", err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := t.Context()
	appID := createApp(t, h.Admin, "").GetApp().GetAppId()
	reserved, _ := structpb.NewStruct(map[string]any{"sub": "admin"})
	tests := []struct {
		name   string
		call   func() error
		code   codes.Code
		reason string
	}{
		{"unknown app", func() error {
			_, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: "app_nope", Subject: "s"})
			return err
		}, codes.NotFound, "APP_NOT_FOUND"},
		{"missing app id", func() error {
			_, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{Subject: "s"})
			return err
		}, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{"empty subject", func() error {
			_, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID})
			return err
		}, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{"ttl too short", func() error {
			_, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s", Ttl: durationpb.New(9 * time.Minute)})
			return err
		}, codes.InvalidArgument, "TTL_OUT_OF_RANGE"},
		{"ttl too long", func() error {
			_, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s", Ttl: durationpb.New(25 * time.Hour)})
			return err
		}, codes.InvalidArgument, "TTL_OUT_OF_RANGE"},
		{"reserved claim", func() error {
			_, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s", Claims: reserved})
			return err
		}, codes.InvalidArgument, "CLAIM_RESERVED"},
		{"empty token", func() error {
			_, err := h.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{})
			return err
		}, codes.InvalidArgument, "TOKEN_EMPTY"},
		{"oversized token", func() error {
			_, err := h.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: strings.Repeat("a", 8<<10+1)})
			return err
		}, codes.InvalidArgument, "TOKEN_TOO_LARGE"},
		{"unsupported algorithm", func() error {
			_, err := h.Admin.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "x", Algorithm: "HS256"})
			return err
		}, codes.InvalidArgument, "UNSUPPORTED_ALGORITHM"},
		{"app max ttl too short", func() error {
			_, err := h.Admin.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "x", MaxTokenTtl: durationpb.New(time.Minute)})
			return err
		}, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{"get unknown app", func() error {
			_, err := h.Admin.GetApp(ctx, &tokendv1.GetAppRequest{AppId: "app_nope"})
			return err
		}, codes.NotFound, "APP_NOT_FOUND"},
		{"jwks of unknown app", func() error {
			_, err := h.Admin.GetJWKS(ctx, &tokendv1.GetJWKSRequest{AppId: "app_nope"})
			return err
		}, codes.NotFound, "APP_NOT_FOUND"},
		{"no credential", func() error {
			_, err := h.Client(t, "").ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: "x"})
			return err
		}, codes.Unauthenticated, "CREDENTIALS_MISSING"},
		{"wrong credential", func() error {
			_, err := h.Client(t, "tkd_wrong").ListApps(ctx, &tokendv1.ListAppsRequest{})
			return err
		}, codes.Unauthenticated, "CREDENTIALS_INVALID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var e *client.Error
			if !errors.As(err, &e) || e.Code != tt.code || e.Reason != tt.reason {
				t.Fatalf("got %v, want %s with reason %s", err, tt.code, tt.reason)
			}
		})
	}
	// Disabled app: issuing fails, its tokens answer APP_DISABLED.
	issued, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Admin.UpdateApp(ctx, &tokendv1.UpdateAppRequest{AppId: appID, Enabled: new(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s"}); !errors.Is(err, client.ErrAppDisabled) {
		t.Errorf("issue for a disabled app: %v, want ErrAppDisabled", err)
	}
	v, err := h.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken()})
	if err != nil || v.GetReason() != tokendv1.InvalidReason_INVALID_REASON_APP_DISABLED {
		t.Errorf("token of a disabled app: %v, %v", v, err)
	}
	// Garbage is an answer, not an error.
	v, err = h.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: "not a jwt"})
	if err != nil || v.GetValid() || v.GetReason() != tokendv1.InvalidReason_INVALID_REASON_MALFORMED {
		t.Errorf("garbage: %v, %v; want valid=false MALFORMED", v, err)
	}
}

func TestHealthAndReflectionNeedNoCredential(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	c := h.Client(t, "")
	resp, err := healthpb.NewHealthClient(c.Conn()).Check(t.Context(), &healthpb.HealthCheckRequest{Service: "tokend.v1.TokenService"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v, %v", resp, err)
	}
}

func TestRolesAndScopes(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := t.Context()
	appA := createApp(t, h.Admin, "").GetApp().GetAppId()
	appB := createApp(t, h.Admin, "").GetApp().GetAppId()
	mk := func(name string, roles, apps []string) *client.Client {
		resp, err := h.Admin.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: name, Roles: roles, AppIds: apps})
		if err != nil {
			t.Fatalf("CreateCaller: %v", err)
		}
		if !strings.HasPrefix(resp.GetApiKey(), "tkd_") {
			t.Errorf("API key %q lacks the tkd_ prefix", resp.GetApiKey())
		}
		return h.Client(t, resp.GetApiKey())
	}
	issuerA := mk("issuer-a", []string{"issuer"}, []string{appA})
	validator := mk("validator", []string{"validator"}, nil)

	tokA, err := issuerA.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "s"})
	if err != nil {
		t.Fatalf("issuer for its app: %v", err)
	}
	if _, err := issuerA.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appB, Subject: "s"}); !errors.Is(err, client.ErrAppScopeDenied) {
		t.Errorf("issuer for another app: %v, want ErrAppScopeDenied", err)
	}
	if _, err := issuerA.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: tokA.GetAccessToken()}); !errors.Is(err, client.ErrRoleDenied) {
		t.Errorf("issuer validating: %v, want ErrRoleDenied", err)
	}
	if _, err := validator.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "s"}); !errors.Is(err, client.ErrRoleDenied) {
		t.Errorf("validator issuing: %v, want ErrRoleDenied", err)
	}
	if _, err := validator.ListApps(ctx, &tokendv1.ListAppsRequest{}); !errors.Is(err, client.ErrRoleDenied) {
		t.Errorf("validator listing apps: %v, want ErrRoleDenied", err)
	}
	if v, err := validator.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: tokA.GetAccessToken()}); err != nil || !v.GetValid() {
		t.Errorf("validator validating: %v, %v", v, err)
	}
	// A deleted caller stops working at once.
	list, err := h.Admin.ListCallers(ctx, &tokendv1.ListCallersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list.GetCallers() {
		if c.GetName() == "validator" {
			if _, err := h.Admin.DeleteCaller(ctx, &tokendv1.DeleteCallerRequest{CallerId: c.GetCallerId()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := validator.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: tokA.GetAccessToken()}); !errors.Is(err, client.ErrCredentialsInvalid) {
		t.Errorf("deleted caller: %v, want ErrCredentialsInvalid", err)
	}
}

func TestListAppsPages(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := t.Context()
	want := map[string]bool{}
	for range 5 {
		want[createApp(t, h.Admin, "EdDSA").GetApp().GetAppId()] = true
	}
	seen := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		resp, err := h.Admin.ListApps(ctx, &tokendv1.ListAppsRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetApps()) > 2 {
			t.Fatalf("page of %d apps, want <= 2", len(resp.GetApps()))
		}
		for _, a := range resp.GetApps() {
			if seen[a.GetAppId()] {
				t.Errorf("app %s listed twice", a.GetAppId())
			}
			seen[a.GetAppId()] = true
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) != len(want) {
		t.Errorf("listed %d apps, want %d", len(seen), len(want))
	}
	if _, err := h.Admin.ListApps(ctx, &tokendv1.ListAppsRequest{PageToken: "!!"}); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("bad page token: %v", err)
	}
}
