package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base32"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// ErrUnsupportedAlgorithm: the algorithm is not in the allow-list.
var ErrUnsupportedAlgorithm = errors.New("keys: unsupported algorithm")

// DefaultAlgorithm is the algorithm of new keys unless one is asked for.
const DefaultAlgorithm = jose.ES256

// rsaBits is the size of generated RSA keys.
const rsaBits = 2048

// ParseAlgorithm returns the allowed algorithm named s ("" means the
// default). Names are matched exactly as JOSE spells them.
func ParseAlgorithm(s string) (jose.SignatureAlgorithm, error) {
	switch jose.SignatureAlgorithm(s) {
	case "":
		return DefaultAlgorithm, nil
	case jose.ES256, jose.EdDSA, jose.RS256, jose.PS256:
		return jose.SignatureAlgorithm(s), nil
	}
	return "", fmt.Errorf("%w: %q (want ES256, EdDSA, RS256 or PS256)", ErrUnsupportedAlgorithm, s)
}

// Generate makes a new private key for alg.
func Generate(alg jose.SignatureAlgorithm) (crypto.Signer, error) {
	switch alg {
	case jose.ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case jose.RS256, jose.PS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
}

// CheckPublic reports whether pub is a key alg can verify with (right type,
// curve and size).
func CheckPublic(alg jose.SignatureAlgorithm, pub crypto.PublicKey) error {
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = alg == jose.ES256 && k.Curve == elliptic.P256()
	case ed25519.PublicKey:
		ok = alg == jose.EdDSA && len(k) == ed25519.PublicKeySize
	case *rsa.PublicKey:
		ok = (alg == jose.RS256 || alg == jose.PS256) && k.N.BitLen() >= rsaBits
	}
	if !ok {
		return fmt.Errorf("%w: key of type %T does not fit %s", ErrUnsupportedAlgorithm, pub, alg)
	}
	return nil
}

// NewKeyID returns a fresh random key id.
func NewKeyID() string { return "k_" + randomID(10) }

// NewAppID returns a fresh random app id.
func NewAppID() string { return "app_" + randomID(10) }

func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("keys: crypto/rand failed: %v", err)) // never happens on supported platforms
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// PrivatePEM encodes a private key as PKCS#8 PEM.
func PrivatePEM(priv crypto.Signer) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("keys: encode private key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// PublicJWK encodes a public key as a JWK with kid, alg and use "sig".
func PublicJWK(kid string, alg jose.SignatureAlgorithm, pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: string(alg), Use: "sig"}
	b, err := json.Marshal(jwk)
	if err != nil {
		return "", fmt.Errorf("keys: encode public key: %w", err)
	}
	return string(b), nil
}

// ParsePublicJWK decodes a public JWK and checks it is a public key.
func ParsePublicJWK(s string) (jose.JSONWebKey, error) {
	var jwk jose.JSONWebKey
	if err := json.Unmarshal([]byte(s), &jwk); err != nil {
		return jwk, fmt.Errorf("keys: decode JWK: %w", err)
	}
	if !jwk.IsPublic() || !jwk.Valid() {
		return jwk, errors.New("keys: JWK is not a valid public key")
	}
	return jwk, nil
}
