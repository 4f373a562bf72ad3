package extauthz

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/tokend/tokend/server/token"
)

func TestEncodeClaims(t *testing.T) {
	t.Parallel()
	iat := time.Unix(1_700_000_000, 0)
	c := &token.Claims{
		Issuer: "tokend", Subject: "user \"42\"\n", AppID: "app_x", Audience: []string{"orders", "billing"},
		IssuedAt: iat, ExpiresAt: iat.Add(time.Hour), ID: "jti-1",
		Extra: map[string]any{"role": "buyer", "tier": float64(3), "flags": []any{true, nil}, "org": map[string]any{"id": "o1"}},
	}
	tests := []struct {
		name   string
		claims []string
		want   string // compact JSON before base64url
	}{
		{"none selected", nil, `{}`},
		{"registered", []string{"sub", "aid", "aud", "iat", "exp", "jti", "iss"},
			`{"sub":"user \"42\"\n","aid":"app_x","aud":["orders","billing"],"iat":1700000000,"exp":1700003600,"jti":"jti-1","iss":"tokend"}`},
		{"extra in selection order", []string{"tier", "role", "flags", "org"},
			`{"tier":3,"role":"buyer","flags":[true,null],"org":{"id":"o1"}}`},
		{"absent left out", []string{"nbf", "missing", "role", "other"}, `{"role":"buyer"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var fields []claimField
			for _, n := range tc.claims {
				fields = append(fields, newClaimField(n))
			}
			enc := encodeClaims(fields, c)
			raw, err := base64.RawURLEncoding.DecodeString(enc)
			if err != nil {
				t.Fatalf("claims header %q is not unpadded base64url: %v", enc, err)
			}
			if string(raw) != tc.want {
				t.Errorf("claims JSON = %s, want %s", raw, tc.want)
			}
			if !json.Valid(raw) {
				t.Errorf("claims JSON %s is not valid JSON", raw)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "ctl \x00\x01\x1f\x7f tab\t cr\r lf\n",
		"ünïcödé 日本 🙂", "sep \u2028 \u2029", "bad \xff\xfe utf8", "<html>&amp;",
	} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("appendJSONString(%q) = %s: not JSON: %v", s, got, err)
			continue
		}
		var want string
		std, _ := json.Marshal(s)
		_ = json.Unmarshal(std, &want)
		if back != want {
			t.Errorf("appendJSONString(%q) decodes to %q, encoding/json to %q", s, back, want)
		}
	}
}

func TestHeaderSafe(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"user-42": true, "a b": true, "mail@example.com": true, "!~": true,
		"": false, " lead": false, "trail ": false, "new\nline": false, "nul\x00": false, "tab\t": false,
		"del\x7f": false, "jürgen": false,
	} {
		if got := headerSafe(s); got != want {
			t.Errorf("headerSafe(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	mapped := func(h map[string]string) *authv3.AttributeContext_HttpRequest {
		return &authv3.AttributeContext_HttpRequest{Headers: h}
	}
	raw := func(kv ...string) *authv3.AttributeContext_HttpRequest {
		m := &corev3.HeaderMap{}
		for i := 0; i < len(kv); i += 2 {
			m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
		}
		return &authv3.AttributeContext_HttpRequest{HeaderMap: m}
	}
	tests := []struct {
		name string
		hr   *authv3.AttributeContext_HttpRequest
		want string
		ok   bool
	}{
		{"bearer", mapped(map[string]string{"authorization": "Bearer abc.def.ghi"}), "abc.def.ghi", true},
		{"scheme case", mapped(map[string]string{"authorization": "bEaReR abc"}), "abc", true},
		{"extra spaces", mapped(map[string]string{"authorization": "Bearer   abc  "}), "abc", true},
		{"inner space kept", mapped(map[string]string{"authorization": "Bearer a b"}), "a b", true},
		{"no request", nil, "", false},
		{"missing", mapped(map[string]string{"x-other": "Bearer abc"}), "", false},
		{"basic", mapped(map[string]string{"authorization": "Basic dXNlcjpwdw=="}), "", false},
		{"scheme only", mapped(map[string]string{"authorization": "Bearer"}), "", false},
		{"empty token", mapped(map[string]string{"authorization": "Bearer   "}), "", false},
		{"no scheme", mapped(map[string]string{"authorization": "abc.def.ghi"}), "", false},
		{"raw headers", raw("Authorization", "Bearer xyz"), "xyz", true},
		{"raw headers repeated", raw("authorization", "Bearer a", "authorization", "Bearer b"), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := bearerToken(tc.hr, "authorization")
			if got != tc.want || ok != tc.ok {
				t.Errorf("bearerToken = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestChallenges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind   denial
		reason token.Reason
		want   string
	}{
		{denyNoToken, token.ReasonNone, "Bearer"},
		{denyInvalid, token.ReasonExpired, `Bearer error="invalid_token", error_description="EXPIRED"`},
		{denyInvalid, token.ReasonRevoked, `Bearer error="invalid_token", error_description="REVOKED"`},
		{denyScope, token.ReasonAudienceMismatch, `Bearer error="insufficient_scope", error_description="AUDIENCE_MISMATCH"`},
	}
	for _, tc := range tests {
		if got := challenges[tc.kind][tc.reason]; got != tc.want {
			t.Errorf("challenge(%d, %s) = %q, want %q", tc.kind, tc.reason, got, tc.want)
		}
		if got := newChallenge(tc.kind, tc.reason); got != tc.want {
			t.Errorf("newChallenge(%d, %s) = %q, want %q", tc.kind, tc.reason, got, tc.want)
		}
	}
}
