package keys_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/keys"
)

func pemOf(t *testing.T, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func jwkOf(t *testing.T, key any, alg, use string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, Algorithm: alg, Use: use, KeyID: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParsePublicKey(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	spki := func(pub any) []byte {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	privJWK := jwkOf(t, edPriv, "EdDSA", "sig")
	tests := []struct {
		name string
		text string
		alg  jose.SignatureAlgorithm
		ok   bool
	}{
		{"EC PEM", pemOf(t, "PUBLIC KEY", spki(ec.Public())), jose.ES256, true},
		{"Ed25519 PEM", pemOf(t, "PUBLIC KEY", spki(edPub)), jose.EdDSA, true},
		{"RSA PEM", pemOf(t, "PUBLIC KEY", spki(rk.Public())), jose.PS256, true},
		{"EC JWK", jwkOf(t, ec.Public(), "ES256", "sig"), jose.ES256, true},
		{"RSA JWK without alg and use", jwkOf(t, rk.Public(), "", ""), jose.RS256, true},
		{"Ed25519 JWK", jwkOf(t, edPub, "EdDSA", ""), jose.EdDSA, true},
		{"private PEM", pemOf(t, "PRIVATE KEY", pkcs8), jose.ES256, false},
		{"private JWK", privJWK, jose.EdDSA, false},
		{"HMAC JWK", `{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}`, jose.ES256, false},
		{"JWK alg differs", jwkOf(t, rk.Public(), "RS256", "sig"), jose.PS256, false},
		{"JWK for encryption", jwkOf(t, ec.Public(), "", "enc"), jose.ES256, false},
		{"certificate PEM", pemOf(t, "CERTIFICATE", []byte{1, 2, 3}), jose.ES256, false},
		{"garbage PEM body", pemOf(t, "PUBLIC KEY", []byte{1, 2, 3}), jose.ES256, false},
		{"two PEM blocks", pemOf(t, "PUBLIC KEY", spki(ec.Public())) + pemOf(t, "PUBLIC KEY", spki(ec.Public())), jose.ES256, false},
		{"empty", "  ", jose.ES256, false},
		{"not a key", "hello", jose.ES256, false},
		{"broken JSON", `{"kty":`, jose.ES256, false},
		{"too large", "{" + strings.Repeat(" ", keys.MaxPublicKeySize) + "}", jose.ES256, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub, err := keys.ParsePublicKey(tt.text, tt.alg)
			if tt.ok {
				if err != nil {
					t.Fatalf("ParsePublicKey: %v", err)
				}
				if err := keys.CheckPublic(tt.alg, pub); err != nil {
					t.Errorf("CheckPublic: %v", err)
				}
				return
			}
			if !errors.Is(err, keys.ErrInvalidPublicKey) {
				t.Fatalf("ParsePublicKey = %T, %v; want ErrInvalidPublicKey", pub, err)
			}
			// The error never repeats what it was given (a pasted private
			// key above all).
			for _, line := range strings.Split(tt.text, "\n") {
				if len(line) > 20 && strings.Contains(err.Error(), line) {
					t.Errorf("error %q repeats the input", err)
				}
			}
		})
	}
	var privMembers map[string]any
	_ = json.Unmarshal([]byte(privJWK), &privMembers)
	if d, _ := privMembers["d"].(string); d == "" {
		t.Fatal("the private JWK case lacks d")
	}
}
