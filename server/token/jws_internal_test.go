package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// goJoseVerify is what validation did before jws.go: go-jose with the
// key's algorithm only.
func goJoseVerify(raw string, k VerifyKey) bool {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{k.Algorithm})
	if err != nil {
		return false
	}
	_, err = jws.Verify(k.Public)
	return err == nil
}

// TestSignaturesAgreeWithGoJose holds the direct signing and verification
// of jws.go to go-jose's answers: tokens signed either way verify either
// way, and every altered token, wrong key or wrong algorithm is refused by
// both.
func TestSignaturesAgreeWithGoJose(t *testing.T) {
	t.Parallel()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := []struct {
		alg  jose.SignatureAlgorithm
		priv crypto.Signer
	}{{jose.ES256, ec}, {jose.EdDSA, ed}, {jose.RS256, rs}, {jose.PS256, rs}}
	for _, k := range keys {
		t.Run(string(k.alg), func(t *testing.T) {
			t.Parallel()
			sk, err := NewSigningKey("k-1", k.alg, k.priv, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if sk.direct == nil {
				t.Fatal("NewSigningKey prepared no direct signer for an in-process key")
			}
			viaJose := sk
			viaJose.direct = nil
			vk := VerifyKey{ID: "k-1", Algorithm: k.alg, Public: k.priv.Public()}
			payload := []byte(`{"sub":"user-1","aid":"app-1","iat":1,"exp":2}`)
			for name, key := range map[string]SigningKey{"direct": sk, "go-jose": viaJose} {
				raw, err := signToken(key, payload)
				if err != nil {
					t.Fatalf("%s: sign: %v", name, err)
				}
				if !verify(raw, vk) || !goJoseVerify(raw, vk) {
					t.Fatalf("%s: a fresh token does not verify: ours %v, go-jose %v", name, verify(raw, vk), goJoseVerify(raw, vk))
				}
				if h, _, _, _ := splitCompact(raw); h != sk.direct.header {
					t.Errorf("%s: header %q; the direct signer writes %q (go-jose's)", name, h, sk.direct.header)
				}
				for i, bad := range alterations(raw) {
					if ours, theirs := verify(bad, vk), goJoseVerify(bad, vk); ours || theirs {
						t.Errorf("%s: alteration %d verifies: ours %v, go-jose %v", name, i, ours, theirs)
					}
				}
				wrong := []VerifyKey{
					{Algorithm: k.alg, Public: other.Public()},
					{Algorithm: jose.HS256, Public: k.priv.Public()},
				}
				for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256, jose.PS256} {
					if alg != k.alg {
						wrong = append(wrong, VerifyKey{Algorithm: alg, Public: k.priv.Public()})
					}
				}
				for _, w := range wrong {
					if verify(raw, w) {
						t.Errorf("%s: verifies with %s key %T", name, w.Algorithm, w.Public)
					}
				}
			}
		})
	}
}

// alterations returns raw with one bit of each signature byte flipped (a
// sample for long signatures), a changed payload, a truncated and an
// extended signature.
func alterations(raw string) []string {
	dot := strings.LastIndexByte(raw, '.')
	sig, err := b64.DecodeString(raw[dot+1:])
	if err != nil {
		panic(err)
	}
	var out []string
	step := max(1, len(sig)/32)
	for i := 0; i < len(sig); i += step {
		for _, bit := range []byte{0x01, 0x80} {
			s := append([]byte(nil), sig...)
			s[i] ^= bit
			out = append(out, raw[:dot+1]+b64.EncodeToString(s))
		}
	}
	first := strings.IndexByte(raw, '.')
	payload, _ := b64.DecodeString(raw[first+1 : dot])
	changed := strings.Replace(string(payload), "user-1", "user-2", 1)
	out = append(out,
		raw[:first+1]+b64.EncodeToString([]byte(changed))+raw[dot:],
		raw[:dot+1]+b64.EncodeToString(sig[:len(sig)-1]),
		raw[:dot+1]+b64.EncodeToString(append(append([]byte(nil), sig...), 0)),
		raw[:dot+1],
	)
	return out
}
