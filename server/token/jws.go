package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// The signature step of the compact JWS, straight on the standard
// library's crypto.
//
// go-jose's ParseSignedCompact + Verify and Signer.Sign + CompactSerialize
// decode and encode the protected header as JSON on every call (maps, raw
// messages, base64 round trips): about 15% of a validation and 25% of an
// issue beside the ECDSA arithmetic (docs/benchmarks.md). Validation has
// parsed and judged the header and claims already (strictly, canonical
// base64url only), and the issuer's header is fixed per key, so both use
// the segments as they are: the signing input is the token up to its last
// dot. The algorithm comes from the key, exactly as it did through go-jose
// (one algorithm per key), and the checks are go-jose's: a P-256 key and a
// 64-byte r||s for ES256, PKCS #1 v1.5 for RS256, PSS with the salt length
// found in the signature for PS256 (go-jose passes nil options), Ed25519
// for EdDSA. TestSignaturesAgreeWithGoJose holds both to the same answers.

// verify checks the signature of raw, a compact JWS that splitCompact
// accepted, with k and by k's algorithm only.
func verify(raw string, k VerifyKey) bool {
	dot := strings.LastIndexByte(raw, '.')
	if dot < 0 {
		return false
	}
	sig, err := b64.DecodeString(raw[dot+1:])
	if err != nil || len(sig) == 0 {
		return false
	}
	input := raw[:dot]
	switch pub := k.Public.(type) {
	case *ecdsa.PublicKey:
		if k.Algorithm != jose.ES256 || pub == nil || pub.Curve != elliptic.P256() || len(sig) != 64 {
			return false
		}
		sum := sha256.Sum256([]byte(input))
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub, sum[:], r, s)
	case ed25519.PublicKey:
		return k.Algorithm == jose.EdDSA && len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, []byte(input), sig)
	case *rsa.PublicKey:
		if pub == nil || pub.N == nil {
			return false
		}
		sum := sha256.Sum256([]byte(input))
		switch k.Algorithm {
		case jose.RS256:
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
		case jose.PS256:
			return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, nil) == nil
		}
	}
	return false
}

// directSigner is what NewSigningKey prepares for Issue: the key's
// protected header, already base64url, and the private key that signs.
type directSigner struct {
	header string
	alg    jose.SignatureAlgorithm
	priv   crypto.Signer // *ecdsa.PrivateKey, ed25519.PrivateKey or *rsa.PrivateKey
}

// newDirectSigner returns the direct signer of key id, or nil for a
// private key it does not handle (an HSM or KMS signer: go-jose signs
// through it then). The header is the one go-jose would write (alg, kid,
// typ JWT) and is checked once, here, against the validator's own rules.
func newDirectSigner(id string, alg jose.SignatureAlgorithm, priv crypto.Signer) (*directSigner, error) {
	switch priv.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey:
	default:
		return nil, nil
	}
	text, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{string(alg), id, "JWT"})
	if err != nil {
		return nil, err
	}
	d := &directSigner{header: b64.EncodeToString(text), alg: alg, priv: priv}
	h, reason, detail := parseHeader(d.header)
	switch {
	case reason != ReasonNone:
		return nil, fmt.Errorf("header: %s", detail)
	case h.alg != alg || h.kid != id || h.typ != "JWT":
		return nil, fmt.Errorf("header %s does not round-trip", text)
	}
	return d, nil
}

// sign returns the compact JWS of payload.
func (d *directSigner) sign(payload []byte) (string, error) {
	buf := make([]byte, 0, len(d.header)+1+b64.EncodedLen(len(payload))+1+b64.EncodedLen(512))
	buf = append(buf, d.header...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	var sig []byte
	var err error
	switch k := d.priv.(type) {
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256(buf)
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, k, sum[:]); err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, buf)
	case *rsa.PrivateKey:
		sum := sha256.Sum256(buf)
		if d.alg == jose.PS256 {
			sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(nil, k, crypto.SHA256, sum[:])
		}
	default:
		err = fmt.Errorf("unsupported private key %T", d.priv)
	}
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}
