package extauthz

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/tokend/tokend/server/token"
)

// FuzzParsePolicy: any document compiles or is refused with
// ErrInvalidPolicy; nothing panics.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(testPolicy))
	f.Add([]byte(`{"routes": [{"host": "[::1]:80", "path_prefix": "/"}]}`))
	f.Add([]byte("default: {claims: [a, a]}\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := ParsePolicy(doc)
		if err == nil && (p == nil || p.def == nil) {
			t.Fatalf("ParsePolicy(%q) = %v without error", doc, p)
		}
	})
}

// FuzzRequest: any host, path and token header is matched to a route and
// parsed without panic, and the claims header of any subject decodes.
func FuzzRequest(f *testing.F) {
	p, err := ParsePolicy([]byte(testPolicy))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("shop.example.com:8443", "/orders/1?x", "Bearer a.b.c", "user-1")
	f.Add("[::1", ":", "bearer", "\xff\u2028")
	f.Fuzz(func(t *testing.T, host, path, header, sub string) {
		if r := p.match(host, path); r == nil {
			t.Fatalf("match(%q, %q) = nil", host, path)
		}
		hr := &authv3.AttributeContext_HttpRequest{Headers: map[string]string{"x-token": header}}
		if tok, ok := bearerToken(hr, "x-token"); ok && tok == "" {
			t.Fatalf("bearerToken(%q) = empty token", header)
		}
		enc := encodeClaims([]claimField{newClaimField("sub"), newClaimField(sub)}, &token.Claims{Subject: sub})
		raw, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil || !json.Valid(raw) {
			t.Fatalf("claims of %q = %q: %v", sub, raw, err)
		}
	})
}
