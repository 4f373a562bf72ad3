package extauthz_test

import (
	"cmp"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/servertest"
)

// clock is the server clock the tests move by hand.
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

// env is a running tokend with apps, callers and an ext_authz client that
// calls Check the way Envoy does.
type env struct {
	h     *servertest.Harness
	clk   *clock
	appA  *tokendv1.CreateAppResponse // ES256
	appB  *tokendv1.CreateAppResponse // EdDSA
	authz authv3.AuthorizationClient

	validatorKey string // role validator, every app
	scopedKey    string // role validator, app B only
	issuerKey    string // role issuer only
}

// start creates apps and callers on a first server, then restarts on the
// same data with the policy that policy returns for those app ids (""
// for none), as an operator would.
func start(t testing.TB, policy func(appA, appB string) string) *env {
	t.Helper()
	e := &env{clk: &clock{now: time.Now().Truncate(time.Second)}}
	dir := t.TempDir()
	first := servertest.Start(t, servertest.WithDataDir(dir), servertest.WithClock(e.clk.Now))
	ctx := t.Context()
	var err error
	if e.appA, err = first.Admin.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "shop", Region: "eu-west-1", Algorithm: "ES256"}); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	if e.appB, err = first.Admin.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "billing", Region: "eu-west-1", Algorithm: "EdDSA"}); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	caller := func(name string, roles, apps []string) string {
		resp, err := first.Admin.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: name, Roles: roles, AppIds: apps})
		if err != nil {
			t.Fatalf("CreateCaller(%s): %v", name, err)
		}
		return resp.GetApiKey()
	}
	e.validatorKey = caller("envoy", []string{"validator"}, nil)
	e.scopedKey = caller("envoy-billing", []string{"validator"}, []string{e.appB.GetApp().GetAppId()})
	e.issuerKey = caller("orders-backend", []string{"issuer"}, nil)
	first.Stop()

	opts := []servertest.Option{servertest.WithDataDir(dir), servertest.WithClock(e.clk.Now)}
	if policy != nil {
		path := filepath.Join(t.TempDir(), "extauthz.yaml")
		if err := os.WriteFile(path, []byte(policy(e.appA.GetApp().GetAppId(), e.appB.GetApp().GetAppId())), 0o600); err != nil {
			t.Fatal(err)
		}
		opts = append(opts, servertest.WithConfig(func(c *server.Config) { c.ExtAuthzPolicy = path }))
	}
	e.h = servertest.Start(t, opts...)
	conn, err := grpc.NewClient(e.h.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	e.authz = authv3.NewAuthorizationClient(conn)
	return e
}

// check calls Check as Envoy's ext_authz filter does: the caller's API key
// in the gRPC metadata (grpc_service.initial_metadata), the proxied
// request in attributes.request.http.
func (e *env) check(t *testing.T, apiKey string, r httpReq) (*authv3.CheckResponse, error) {
	t.Helper()
	ctx := t.Context()
	if apiKey != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+apiKey)
	}
	return e.authz.Check(ctx, r.checkRequest())
}

// httpReq is the proxied HTTP request.
type httpReq struct {
	host, path string
	headers    map[string]string
	raw        bool // send the headers as header_map (encode_raw_headers)
}

func (r httpReq) checkRequest() *authv3.CheckRequest {
	method, path := "GET", r.path
	if path == "" {
		path = "/"
	}
	hr := &authv3.AttributeContext_HttpRequest{
		Id: "req-1", Method: method, Host: r.host, Path: path, Scheme: "https", Protocol: "HTTP/1.1",
		Headers: map[string]string{":authority": r.host, ":method": method, ":path": path, "user-agent": "curl/8", "x-tokend-subject": "forged"},
	}
	for k, v := range r.headers {
		hr.Headers[k] = v
	}
	if r.raw {
		hr.HeaderMap = &corev3.HeaderMap{}
		for k, v := range hr.Headers {
			hr.HeaderMap.Headers = append(hr.HeaderMap.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
		}
		hr.Headers = nil
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Principal: "spiffe://cluster.local/ns/web/sa/frontend"},
		Destination: &authv3.AttributeContext_Peer{Principal: "spiffe://cluster.local/ns/shop/sa/orders"},
		Request:     &authv3.AttributeContext_Request{Http: hr},
	}}
}

func bearer(tok string) map[string]string { return map[string]string{"authorization": "Bearer " + tok} }

// decision is what Envoy would do with a CheckResponse.
type decision struct {
	code      codes.Code        // CheckResponse.status.code
	http      int               // denied_response.status.code (0 when allowed)
	challenge string            // its WWW-Authenticate
	set       map[string]string // ok_response headers, overwriting the client's
	remove    []string          // ok_response headers_to_remove
	claims    map[string]any    // the claims header, decoded
	// claimsHeader is the claims header's name (x-tokend-claims).
	claimsHeader string
}

func assertDecision(t *testing.T, resp *authv3.CheckResponse, want decision) {
	t.Helper()
	if got := codes.Code(resp.GetStatus().GetCode()); got != want.code {
		t.Errorf("status code = %v, want %v (%s)", got, want.code, resp.GetStatus().GetMessage())
	}
	if want.code != codes.OK {
		d := resp.GetDeniedResponse()
		if d == nil || resp.GetOkResponse() != nil {
			t.Fatalf("response %v: want a denied_response only", resp)
		}
		if got := int(d.GetStatus().GetCode()); got != want.http {
			t.Errorf("HTTP status = %d, want %d", got, want.http)
		}
		if got := headerValues(t, d.GetHeaders()); len(got) != 1 || got["www-authenticate"] != want.challenge {
			t.Errorf("denied headers = %q, want only www-authenticate: %s", got, want.challenge)
		}
		return
	}
	ok := resp.GetOkResponse()
	if ok == nil || resp.GetDeniedResponse() != nil {
		t.Fatalf("response %v: want an ok_response only", resp)
	}
	got := headerValues(t, ok.GetHeaders())
	claimsHeader := cmp.Or(want.claimsHeader, "x-tokend-claims")
	if c, has := got[claimsHeader]; has {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			t.Errorf("%s %q is not unpadded base64url: %v", claimsHeader, c, err)
		}
		var claims map[string]any
		if err := json.Unmarshal(raw, &claims); err != nil || want.claims == nil || !jsonEqual(claims, want.claims) {
			t.Errorf("%s = %s (%v), want %v", claimsHeader, raw, err, want.claims)
		}
		delete(got, claimsHeader)
	} else if want.claims != nil {
		t.Errorf("no %s, want %v", claimsHeader, want.claims)
	}
	if !mapsEqual(got, want.set) {
		t.Errorf("upstream headers = %q, want %q", got, want.set)
	}
	if !slices.Equal(ok.GetHeadersToRemove(), want.remove) {
		t.Errorf("headers_to_remove = %q, want %q", ok.GetHeadersToRemove(), want.remove)
	}
}

// headerValues returns the headers, checking that each overwrites the
// client's header of the same name rather than appending to it.
func headerValues(t *testing.T, hs []*corev3.HeaderValueOption) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range hs {
		//lint:ignore SA1019 the deprecated append field must stay unset: append_action replaces it
		appendSet := h.GetAppend() != nil
		if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD || appendSet {
			t.Errorf("header %s: append_action %v append set %v, want OVERWRITE_IF_EXISTS_OR_ADD", h.GetHeader().GetKey(), h.GetAppendAction(), appendSet)
		}
		if _, dup := out[h.GetHeader().GetKey()]; dup {
			t.Errorf("header %s set twice", h.GetHeader().GetKey())
		}
		out[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	return out
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func jsonEqual(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func parsePKCS8(t *testing.T, pemText string) crypto.Signer {
	t.Helper()
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		t.Fatal("no PEM block in the private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("ParsePKCS8PrivateKey: %v", err)
	}
	return k.(crypto.Signer)
}

// backendToken is a token signed by the app's own backend with the
// downloaded private key of app (an independent JWT library).
func (e *env) backendToken(t *testing.T, app *tokendv1.CreateAppResponse, claims jwt.MapClaims, kid string) string {
	t.Helper()
	method := map[string]jwt.SigningMethod{"ES256": jwt.SigningMethodES256, "EdDSA": jwt.SigningMethodEdDSA}[app.GetKey().GetAlgorithm()]
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	signed, err := tok.SignedString(parsePKCS8(t, app.GetPrivateKeyPem()))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return signed
}

func (e *env) issue(t *testing.T, req *tokendv1.IssueTokenRequest) *tokendv1.IssueTokenResponse {
	t.Helper()
	if req.Ttl == nil {
		req.Ttl = durationpb.New(15 * time.Minute)
	}
	resp, err := e.h.Admin.IssueToken(t.Context(), req)
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	return resp
}

// tamper flips a bit of the signature, keeping the encoding canonical.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)/2] ^= 0x01
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

const mainPolicy = `
# Everything not matched below: any app, no audience, token kept.
default:
  claims: []
routes:
  - name: orders
    path_prefix: /orders
    audience: orders
    apps: [%A%]
    claims: [sub, aud, role]
    strip_token: true
  - name: shop
    host: shop.example.com
    audience: shop
`

func TestCheck(t *testing.T) {
	t.Parallel()
	e := start(t, func(a, _ string) string { return strings.ReplaceAll(mainPolicy, "%A%", a) })
	ctx := t.Context()
	appA, appB := e.appA.GetApp().GetAppId(), e.appB.GetApp().GetAppId()
	kidA, kidB := e.appA.GetKey().GetKeyId(), e.appB.GetKey().GetKeyId()
	now := e.clk.Now()

	role, _ := structpb.NewStruct(map[string]any{"role": "buyer"})
	valid := e.issue(t, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "user-42", Audience: []string{"orders", "web"}, Claims: role}).GetAccessToken()
	webOnly := e.issue(t, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "user-42", Audience: []string{"web"}}).GetAccessToken()
	ofB := e.issue(t, &tokendv1.IssueTokenRequest{AppId: appB, Subject: "user-7", Audience: []string{"orders"}}).GetAccessToken()
	delayed := e.issue(t, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "user-42", NotBeforeDelay: durationpb.New(time.Minute)}).GetAccessToken()
	unicode := e.issue(t, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "jürgen\u00a0m", Audience: []string{"orders"}}).GetAccessToken()

	revoked := e.issue(t, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "user-gone"})
	if _, err := e.h.Admin.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appA, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: revoked.GetTokenId()}}); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	appC, err := e.h.Admin.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "legacy", Region: "eu-west-1"})
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	ofDisabled := e.issue(t, &tokendv1.IssueTokenRequest{AppId: appC.GetApp().GetAppId(), Subject: "user-1"}).GetAccessToken()
	disabled := false
	if _, err := e.h.Admin.UpdateApp(ctx, &tokendv1.UpdateAppRequest{AppId: appC.GetApp().GetAppId(), Enabled: &disabled}); err != nil {
		t.Fatalf("UpdateApp: %v", err)
	}

	backend := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(20 * time.Minute).Unix(), "sub": "backend-user", "aid": appA}
		mod(c)
		return c
	}
	hmac := jwt.NewWithClaims(jwt.SigningMethodHS256, backend(func(jwt.MapClaims) {}))
	hmac.Header["kid"] = kidA
	hmacToken, _ := hmac.SignedString([]byte(e.appA.GetKey().GetPublicJwk())) // the classic public-key-as-HMAC-secret attack

	invalid := func(reason string) decision {
		return decision{code: codes.Unauthenticated, http: 401, challenge: `Bearer error="invalid_token", error_description="` + reason + `"`}
	}
	refused := func(reason string) decision {
		return decision{code: codes.PermissionDenied, http: 403, challenge: `Bearer error="insufficient_scope", error_description="` + reason + `"`}
	}
	noToken := decision{code: codes.Unauthenticated, http: 401, challenge: "Bearer"}
	api := func(path string, headers map[string]string) httpReq {
		return httpReq{host: "api.example.com", path: path, headers: headers}
	}

	tests := []struct {
		name string
		key  string // the ext_authz caller; the validator by default
		req  httpReq
		want decision
	}{
		{"valid on a route that strips the token", "", api("/orders/42?expand=items", bearer(valid)), decision{
			code: codes.OK,
			set:  map[string]string{"x-tokend-subject": "user-42", "x-tokend-app-id": appA},
			// the route selects sub, aud and role
			claims: map[string]any{"sub": "user-42", "aud": []any{"orders", "web"}, "role": "buyer"},
			remove: []string{"authorization"},
		}},
		{"valid on the default route, token kept", "", api("/home", bearer(webOnly)), decision{
			code: codes.OK, set: map[string]string{"x-tokend-subject": "user-42", "x-tokend-app-id": appA},
			remove: []string{"x-tokend-claims"}, // not configured there: a forged one is dropped
		}},
		{"valid from the app's backend without kid", "", api("/home", bearer(e.backendToken(t, e.appA, backend(func(jwt.MapClaims) {}), ""))), decision{
			code: codes.OK, set: map[string]string{"x-tokend-subject": "backend-user", "x-tokend-app-id": appA},
			remove: []string{"x-tokend-claims"},
		}},
		{"valid with raw headers (encode_raw_headers)", "", httpReq{host: "api.example.com", path: "/home", headers: bearer(webOnly), raw: true}, decision{
			code: codes.OK, set: map[string]string{"x-tokend-subject": "user-42", "x-tokend-app-id": appA},
			remove: []string{"x-tokend-claims"},
		}},
		{"subject that cannot travel in a header", "", api("/orders", bearer(unicode)), decision{
			code: codes.OK, set: map[string]string{"x-tokend-app-id": appA},
			claims: map[string]any{"sub": "jürgen\u00a0m", "aud": []any{"orders"}},
			remove: []string{"authorization", "x-tokend-subject"},
		}},
		{"large request headers", "", api("/home", map[string]string{"authorization": "Bearer " + webOnly, "cookie": strings.Repeat("c", 90<<10)}), decision{
			code: codes.OK, set: map[string]string{"x-tokend-subject": "user-42", "x-tokend-app-id": appA},
			remove: []string{"x-tokend-claims"},
		}},
		{"an admin may check too", servertest.AdminKey, api("/home", bearer(webOnly)), decision{
			code: codes.OK, set: map[string]string{"x-tokend-subject": "user-42", "x-tokend-app-id": appA},
			remove: []string{"x-tokend-claims"},
		}},

		{"missing header", "", api("/orders", nil), noToken},
		{"other scheme", "", api("/orders", map[string]string{"authorization": "Basic dXNlcjpwYXNz"}), noToken},
		{"bearer without token", "", api("/orders", map[string]string{"authorization": "Bearer "}), noToken},
		{"token without scheme", "", api("/orders", map[string]string{"authorization": valid}), noToken},
		{"token in another header", "", api("/orders", map[string]string{"x-token": "Bearer " + valid}), noToken},

		{"malformed", "", api("/home", bearer("not-a-jwt")), invalid("MALFORMED")},
		{"malformed: too large", "", api("/home", bearer(strings.Repeat("a", 9000))), invalid("MALFORMED")},
		{"malformed: exp is a string", "", api("/home", bearer(e.backendToken(t, e.appA, backend(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), kidA))), invalid("MALFORMED")},
		{"bad signature", "", api("/home", bearer(tamper(t, webOnly))), invalid("BAD_SIGNATURE")},
		{"signed with another app's key", "", api("/home", bearer(e.backendToken(t, e.appB, backend(func(jwt.MapClaims) {}), ""))), invalid("UNSUPPORTED_ALGORITHM")},
		{"HMAC with the public key", "", api("/home", bearer(hmacToken)), invalid("UNSUPPORTED_ALGORITHM")},
		{"unknown key", "", api("/home", bearer(e.backendToken(t, e.appA, backend(func(jwt.MapClaims) {}), "k_nope"))), invalid("UNKNOWN_KEY")},
		{"key of another app", "", api("/home", bearer(e.backendToken(t, e.appA, backend(func(jwt.MapClaims) {}), kidB))), invalid("UNKNOWN_KEY")},
		{"unknown app", "", api("/home", bearer(e.backendToken(t, e.appA, backend(func(c jwt.MapClaims) { c["aid"] = "app_nope" }), kidA))), invalid("UNKNOWN_APP")},
		{"missing sub", "", api("/home", bearer(e.backendToken(t, e.appA, backend(func(c jwt.MapClaims) { delete(c, "sub") }), kidA))), invalid("MISSING_CLAIM")},
		{"lifetime too long", "", api("/home", bearer(e.backendToken(t, e.appA, backend(func(c jwt.MapClaims) { c["exp"] = now.Add(30 * 24 * time.Hour).Unix() }), kidA))), invalid("LIFETIME_TOO_LONG")},
		{"expired", "", api("/home", bearer(e.backendToken(t, e.appA, backend(func(c jwt.MapClaims) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}), kidA))), invalid("EXPIRED")},
		{"not yet valid", "", api("/home", bearer(delayed)), invalid("NOT_YET_VALID")},
		{"app disabled", "", api("/home", bearer(ofDisabled)), invalid("APP_DISABLED")},
		{"revoked", "", api("/home", bearer(revoked.GetAccessToken())), invalid("REVOKED")},
		{"invalid beats policy", "", api("/orders", bearer(tamper(t, ofB))), invalid("BAD_SIGNATURE")},

		{"audience the route does not require", "", api("/orders/1", bearer(webOnly)), refused("AUDIENCE_MISMATCH")},
		{"app the route does not allow", "", api("/orders/1", bearer(ofB)), refused("APP_MISMATCH")},
		{"host route with its own audience", "", httpReq{host: "shop.example.com:443", path: "/orders/1", headers: bearer(valid)}, refused("AUDIENCE_MISMATCH")},
		{"app outside the caller's scope", e.scopedKey, api("/home", bearer(webOnly)), refused("APP_MISMATCH")},
		{"app inside the caller's scope", e.scopedKey, api("/home", bearer(ofB)), decision{
			code: codes.OK, set: map[string]string{"x-tokend-subject": "user-7", "x-tokend-app-id": appB},
			remove: []string{"x-tokend-claims"},
		}},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				key := tc.key
				if key == "" {
					key = e.validatorKey
				}
				resp, err := e.check(t, key, tc.req)
				if err != nil {
					t.Fatalf("Check: %v (a decision is never an RPC error)", err)
				}
				assertDecision(t, resp, tc.want)
			})
		}
	})

	// Every decision is counted by status and reason.
	metrics := httpGet(t, "http://"+e.h.Server.HTTPAddr()+"/metrics")
	for _, line := range []string{
		`tokend_extauthz_checks_total{reason="MISSING_TOKEN",status="401"} 5`,
		`tokend_extauthz_checks_total{reason="OK",status="200"} 8`,
		`tokend_extauthz_checks_total{reason="UNSUPPORTED_ALGORITHM",status="401"} 2`,
		`tokend_extauthz_checks_total{reason="AUDIENCE_MISMATCH",status="403"} 2`,
		`tokend_extauthz_checks_total{reason="REVOKED",status="401"} 1`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	// Denials are in the access log with their route; tokens never are.
	logs := e.h.Logs.String()
	if !strings.Contains(logs, `"extauthz.reason":"AUDIENCE_MISMATCH"`) || !strings.Contains(logs, `"extauthz.route":"orders"`) {
		t.Errorf("the access log does not name the decision and route")
	}
	for _, secret := range []string{valid, webOnly, e.validatorKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("a token or key is in the logs")
		}
	}
}

// TestCheckClock moves the injected server clock: a token becomes valid at
// its delayed nbf and expires at exp plus the leeway.
func TestCheckClock(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	appA := e.appA.GetApp().GetAppId()
	tok := e.issue(t, &tokendv1.IssueTokenRequest{
		AppId: appA, Subject: "user-1", Ttl: durationpb.New(10 * time.Minute), NotBeforeDelay: durationpb.New(4 * time.Second),
	}).GetAccessToken()
	ok := decision{code: codes.OK, set: map[string]string{"x-tokend-subject": "user-1", "x-tokend-app-id": appA}, remove: []string{"x-tokend-claims"}}
	steps := []struct {
		advance time.Duration
		want    decision
	}{
		{0, decision{code: codes.Unauthenticated, http: 401, challenge: `Bearer error="invalid_token", error_description="NOT_YET_VALID"`}},
		{4 * time.Second, ok},
		{10*time.Minute - 4*time.Second + e.h.Config.Leeway - time.Second, ok}, // within the leeway
		{2 * time.Second, decision{code: codes.Unauthenticated, http: 401, challenge: `Bearer error="invalid_token", error_description="EXPIRED"`}},
	}
	for i, s := range steps {
		e.clk.Advance(s.advance)
		resp, err := e.check(t, e.validatorKey, httpReq{host: "api.example.com", path: "/", headers: bearer(tok)})
		if err != nil {
			t.Fatalf("step %d: Check: %v", i, err)
		}
		assertDecision(t, resp, s.want)
	}
}

// TestCheckCaller: the caller of Check is authenticated like every RPC and
// needs the validator role; that failure alone is an RPC error.
func TestCheckCaller(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	req := httpReq{host: "api.example.com", path: "/", headers: bearer("not-a-jwt")}
	tests := []struct {
		name, key string
		want      codes.Code
	}{
		{"no key", "", codes.Unauthenticated},
		{"unknown key", "tkd_not-a-real-key-0123456789abcdef", codes.Unauthenticated},
		{"issuer only", e.issuerKey, codes.PermissionDenied},
		{"validator", e.validatorKey, codes.OK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := e.check(t, tc.key, req)
			if got := status.Code(err); got != tc.want {
				t.Fatalf("Check = %v, %v; want %v", resp, err, tc.want)
			}
			if err == nil && codes.Code(resp.GetStatus().GetCode()) != codes.Unauthenticated {
				t.Errorf("validator's Check of garbage = %v, want a 401 decision", resp)
			}
		})
	}
	t.Run("health", func(t *testing.T) {
		t.Parallel()
		conn, err := grpc.NewClient(e.h.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: authv3.Authorization_ServiceDesc.ServiceName})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health of %s = %v, %v; want SERVING", authv3.Authorization_ServiceDesc.ServiceName, resp, err)
		}
	})
}

// TestCheckCustomHeaders runs a JSON policy with another token header and
// other upstream header names.
func TestCheckCustomHeaders(t *testing.T) {
	t.Parallel()
	e := start(t, func(_, _ string) string {
		return `{"token_header": "X-Jwt", "default": {"headers": {"subject": "x-user", "app_id": "", "claims": "x-claims"}, "claims": ["aid", "exp"], "strip_token": true}}`
	})
	appA := e.appA.GetApp().GetAppId()
	issued := e.issue(t, &tokendv1.IssueTokenRequest{AppId: appA, Subject: "user-1"})
	tests := []struct {
		name    string
		headers map[string]string
		want    decision
	}{
		{"token in the configured header", map[string]string{"x-jwt": "Bearer " + issued.GetAccessToken()}, decision{
			code: codes.OK, set: map[string]string{"x-user": "user-1"}, claimsHeader: "x-claims",
			claims: map[string]any{"aid": appA, "exp": float64(issued.GetExpiresAt().GetSeconds())},
			remove: []string{"x-jwt"},
		}},
		{"authorization is not read", bearer(issued.GetAccessToken()), decision{code: codes.Unauthenticated, http: 401, challenge: "Bearer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := e.check(t, e.validatorKey, httpReq{host: "api.example.com", path: "/", headers: tc.headers})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			assertDecision(t, resp, tc.want)
		})
	}
}

// TestPolicyConfig: a bad policy file stops the start with the config
// field and the policy field named.
func TestPolicyConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("routes:\n  - path_prefix: orders\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       []string
	}{
		{"bad field", bad, []string{"config: extauthz-policy:", bad, "routes[0].path_prefix"}},
		{"missing file", filepath.Join(dir, "nope.yaml"), []string{"config: extauthz-policy:", "nope.yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := server.DefaultConfig()
			cfg.GRPCListen, cfg.HTTPListen, cfg.DataDir = "127.0.0.1:0", "", t.TempDir()
			cfg.ExtAuthzPolicy = tc.path
			srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil {
				_ = srv.Shutdown(context.Background())
				t.Fatal("server.New accepted a bad policy")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
