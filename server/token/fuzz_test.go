package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/token"
)

// fuzzWorld is a validator at t0 and the seeds, with the decoded segments
// of those it accepts.
type fuzzWorld struct {
	v     *token.Validator
	keys  map[string]*testKey
	seeds []string
	valid map[[3]string]bool
}

func newFuzzWorld(t testing.TB) *fuzzWorld {
	f := newFixture(t)
	w := &fuzzWorld{
		v:     token.NewValidator(f.src, token.WithClock(clockAt(t0)), token.WithDenylist(denylist{"revoked-jti": true})),
		keys:  f.keys,
		valid: map[[3]string]bool{},
	}
	iss := token.NewIssuer(f.src, "tokend-test", token.WithIssuerClock(clockAt(t0.Add(-time.Minute))))
	for _, app := range []string{"app-es", "app-ed", "app-rs", "app-ps"} {
		got, err := iss.Issue(token.IssueRequest{AppID: app, Subject: "user-1", Audience: []string{"svc-a"},
			Extra: map[string]any{"role": "reader"}})
		if err != nil {
			t.Fatal(err)
		}
		w.seeds = append(w.seeds, got.Token)
	}
	for _, kid := range []string{"k-es", "k-ed"} {
		for _, withKid := range []bool{true, false} {
			w.seeds = append(w.seeds, backendToken(t, f.keys[kid], withKid, t0.Add(-time.Minute), t0.Add(time.Hour)))
		}
	}
	for _, tc := range validateCases(t, f) {
		w.seeds = append(w.seeds, tc.token)
	}
	for _, s := range w.seeds {
		if res, err := w.v.Validate(s, token.Expect{}); err == nil && res.Valid() {
			segs, ok := decodeSegments(s)
			if !ok {
				t.Fatalf("valid seed %q does not decode", s)
			}
			w.valid[segs] = true
		}
	}
	if len(w.valid) < 8 {
		t.Fatalf("only %d valid seeds", len(w.valid))
	}
	return w
}

// decodeSegments decodes the three segments of a compact JWS leniently
// (as any base64url decoder would), so that two spellings of the same
// bytes compare equal.
func decodeSegments(raw string) ([3]string, bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return [3]string{}, false
	}
	var out [3]string
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return [3]string{}, false
		}
		out[i] = string(b)
	}
	return out, true
}

// check asserts the invariants of Validate on any input.
func (w *fuzzWorld) check(t *testing.T, raw string) {
	t.Helper()
	res, err := w.v.Validate(raw, token.Expect{})
	if err != nil {
		if !errors.Is(err, token.ErrTokenEmpty) && !errors.Is(err, token.ErrTokenTooLarge) && !errors.Is(err, token.ErrTokenNotUTF8) {
			t.Fatalf("Validate(%q) error %v is not a request error", raw, err)
		}
		if res.Valid() {
			t.Fatalf("Validate(%q): valid Result with error %v", raw, err)
		}
		return
	}
	if !res.Valid() {
		if res.Reason < token.ReasonMalformed || res.Reason > token.ReasonRevoked {
			t.Fatalf("Validate(%q): reason %d out of range", raw, res.Reason)
		}
		if res.Detail == "" || len(res.Detail) > 300 {
			t.Fatalf("Validate(%q): refusal %s with Detail %q", raw, res.Reason, res.Detail)
		}
		return
	}
	segs, ok := decodeSegments(raw)
	if !ok || !w.valid[segs] && !w.signedByKey(raw, res.KeyID) {
		t.Fatalf("Validate(%q) accepted a token that is no valid seed nor signed by key %q (claims %+v)", raw, res.KeyID, res.Claims)
	}
	if res.KeyID == "" || res.Claims.Subject == "" || res.Detail != "" {
		t.Fatalf("Validate(%q): valid result %+v", raw, res)
	}
}

// signedByKey checks an accepted token independently of go-jose and of
// the parser under test: its segments are the canonical base64url of their
// bytes, and its signature verifies, with the standard library, under the
// key kid by that key's algorithm, which the header names. A seed of
// another fuzzing process (another jti, another ECDSA nonce) passes; a
// token with any byte altered does not.
func (w *fuzzWorld) signedByKey(raw, kid string) bool {
	k, ok := w.keys[kid]
	if !ok {
		return false
	}
	parts := strings.Split(raw, ".")
	var dec [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil || base64.RawURLEncoding.EncodeToString(b) != p {
			return false
		}
		dec[i] = b
	}
	var hdr struct{ Alg string }
	if json.Unmarshal(dec[0], &hdr) != nil || hdr.Alg != string(k.Alg) {
		return false
	}
	input := []byte(parts[0] + "." + parts[1])
	sum := sha256.Sum256(input)
	sig := dec[2]
	switch pub := k.Priv.Public().(type) {
	case *ecdsa.PublicKey:
		return len(sig) == 64 && ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	case ed25519.PublicKey:
		return ed25519.Verify(pub, input, sig)
	case *rsa.PublicKey:
		if k.Alg == jose.PS256 {
			return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
		}
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
	}
	return false
}

func FuzzValidate(f *testing.F) {
	w := newFuzzWorld(f)
	for _, s := range w.seeds {
		f.Add(s)
	}
	for _, s := range []string{
		"", ".", "..", "...", "a.b.c", "e30.e30.", "eyJhbGciOiJub25lIn0.e30.",
		"\xff\xfe", strings.Repeat("A", token.DefaultMaxTokenSize+1), "{\"payload\":\"\"}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		w.check(t, raw)
	})
}

// TestValidateSingleByteChanges: no valid token with one character changed
// anywhere (header, payload, signature) is accepted, except for a change
// that spells the same bytes, which the strict decoding refuses anyway.
func TestValidateSingleByteChanges(t *testing.T) {
	t.Parallel()
	w := newFuzzWorld(t)
	f := newFixture(t)
	iss := token.NewIssuer(f.src, "tokend-test", token.WithIssuerClock(clockAt(t0)))
	issued := map[string]string{}
	for _, app := range []string{"app-es", "app-ed", "app-rs", "app-ps"} {
		got, err := iss.Issue(token.IssueRequest{AppID: app, Subject: "user-1"})
		if err != nil {
			t.Fatal(err)
		}
		segs, _ := decodeSegments(got.Token)
		w.valid[segs] = true // before the subtests, which only read it
		issued[app] = got.Token
	}
	for app, tok := range issued {
		t.Run(app, func(t *testing.T) {
			t.Parallel()
			raw := []byte(tok)
			for i := range raw {
				for _, c := range []byte{raw[i] ^ 0x01, raw[i] ^ 0x20, '.'} {
					if c == raw[i] {
						continue
					}
					mutated := append([]byte(nil), raw...)
					mutated[i] = c
					w.check(t, string(mutated))
				}
			}
		})
	}
}

// TestFuzzSeedsHaveAlgorithms keeps the seed corpus honest: it holds valid
// tokens of every algorithm.
func TestFuzzSeedsHaveAlgorithms(t *testing.T) {
	t.Parallel()
	w := newFuzzWorld(t)
	algs := map[string]bool{}
	for segs := range w.valid {
		for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256, jose.PS256} {
			if strings.Contains(segs[0], `"`+string(alg)+`"`) {
				algs[string(alg)] = true
			}
		}
	}
	if len(algs) != 4 {
		t.Errorf("valid seeds cover %v", algs)
	}
}

func FuzzInspect(f *testing.F) {
	w := newFuzzWorld(f)
	for _, s := range w.seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		h, c, err := token.Inspect(raw)
		if err == nil && (h == nil || c == nil) {
			t.Fatalf("Inspect(%q) = %v, %v without error", raw, h, c)
		}
	})
}
