package keys

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// ErrInvalidPublicKey: a public key given to register cannot be used.
var ErrInvalidPublicKey = errors.New("keys: invalid public key")

// MaxPublicKeySize is the largest public key text ParsePublicKey reads.
const MaxPublicKeySize = 16 << 10

// ParsePublicKey reads a public key given as a JWK (JSON text) or as a PEM
// "PUBLIC KEY" (SubjectPublicKeyInfo) block. It refuses private keys, and
// never repeats the text it was given in its errors. A JWK that names an
// algorithm must name alg; a JWK "use" other than "sig" is refused.
func ParsePublicKey(text string, alg jose.SignatureAlgorithm) (crypto.PublicKey, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return nil, fmt.Errorf("%w: empty", ErrInvalidPublicKey)
	case len(text) > MaxPublicKeySize:
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidPublicKey, MaxPublicKeySize)
	case strings.HasPrefix(text, "{"):
		return parseJWK(text, alg)
	case strings.HasPrefix(text, "-----BEGIN"):
		return parsePEM(text)
	}
	return nil, fmt.Errorf("%w: want a JWK (JSON) or a PEM \"PUBLIC KEY\" block", ErrInvalidPublicKey)
}

func parseJWK(text string, alg jose.SignatureAlgorithm) (crypto.PublicKey, error) {
	// Look at the members first: go-jose accepts private JWKs and HMAC
	// ("oct") keys, which must be refused without going further.
	var members map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &members); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidPublicKey)
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
		if _, ok := members[private]; ok {
			return nil, fmt.Errorf("%w: the JWK holds private or secret key material (%q); send the public key only", ErrInvalidPublicKey, private)
		}
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON([]byte(text)); err != nil {
		return nil, fmt.Errorf("%w: not a usable JWK", ErrInvalidPublicKey)
	}
	if !jwk.IsPublic() || !jwk.Valid() {
		return nil, fmt.Errorf("%w: not a valid public JWK", ErrInvalidPublicKey)
	}
	if jwk.Algorithm != "" && jwk.Algorithm != string(alg) {
		return nil, fmt.Errorf("%w: the JWK says alg %q, the request %q", ErrInvalidPublicKey, jwk.Algorithm, alg)
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return nil, fmt.Errorf("%w: the JWK's use is %q, want \"sig\"", ErrInvalidPublicKey, jwk.Use)
	}
	return jwk.Key, nil
}

func parsePEM(text string) (crypto.PublicKey, error) {
	block, rest := pem.Decode([]byte(text))
	switch {
	case block == nil:
		return nil, fmt.Errorf("%w: not a PEM block", ErrInvalidPublicKey)
	case strings.Contains(block.Type, "PRIVATE"):
		return nil, fmt.Errorf("%w: a PEM %q block is private; send the PUBLIC KEY only", ErrInvalidPublicKey, block.Type)
	case block.Type != "PUBLIC KEY":
		return nil, fmt.Errorf("%w: PEM block %q, want \"PUBLIC KEY\"", ErrInvalidPublicKey, block.Type)
	case len(strings.TrimSpace(string(rest))) > 0:
		return nil, fmt.Errorf("%w: text after the PEM block", ErrInvalidPublicKey)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: not a SubjectPublicKeyInfo", ErrInvalidPublicKey)
	}
	return pub, nil
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of a public key, base64url.
func thumbprint(pub crypto.PublicKey) (string, error) {
	t, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidPublicKey, err)
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}
