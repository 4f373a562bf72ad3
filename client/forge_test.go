package client_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
)

// Tokens forged by hand, the way an app's backend (or an attacker) makes
// them, independent of tokend's signing code.

func seg(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signWith signs a compact JWS input with key: ES256 (raw r||s), EdDSA,
// or HS256 when key is a []byte.
func signWith(t *testing.T, key any, input string) []byte {
	t.Helper()
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		h := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	case ed25519.PrivateKey:
		return ed25519.Sign(k, []byte(input))
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		return m.Sum(nil)
	case nil:
		return nil
	}
	t.Fatalf("cannot sign with %T", key)
	return nil
}

// forge makes a compact JWS of header and claims signed with key.
func forge(t *testing.T, header, claims map[string]any, key any) string {
	t.Helper()
	input := seg(t, header) + "." + seg(t, claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(signWith(t, key, input))
}

// backendClaims are the claims an app's backend sends: iat nbf exp sub aid.
func backendClaims(appID string, iat time.Time, life time.Duration) map[string]any {
	return map[string]any{"sub": "backend-user", "aid": appID, "iat": iat.Unix(), "nbf": iat.Unix(), "exp": iat.Add(life).Unix()}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func parsePrivateKey(t *testing.T, pemText string) crypto.Signer {
	t.Helper()
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		t.Fatalf("no PEM block in the private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}

func structpbFrom(m map[string]any) (*structpb.Struct, error) { return structpb.NewStruct(m) }
