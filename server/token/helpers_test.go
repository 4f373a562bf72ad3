package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/token"
)

// t0 is "now" for every test that does not move the clock.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

// testKey is a key pair of the fixture.
type testKey struct {
	ID          string
	App         string
	Alg         jose.SignatureAlgorithm
	Priv        crypto.Signer
	VerifyUntil time.Time
	Signs       bool // the app signs with it
}

func (k *testKey) verifyKey() token.VerifyKey {
	return token.VerifyKey{ID: k.ID, AppID: k.App, Algorithm: k.Alg, Public: k.Priv.Public(), VerifyUntil: k.VerifyUntil}
}

// material holds the key pairs: fixed TEST-ONLY keys read from
// testdata/keys.json, so that every process of a fuzzing run (the workers
// run the setup again) trusts the same keys and the coordinator's seeds
// mean the same everywhere. It is loaded once per test binary.
type material struct {
	es, es2, evil *ecdsa.PrivateKey
	ed, edEvil    ed25519.PrivateKey
	rs, ps        *rsa.PrivateKey
}

var keyMaterial = sync.OnceValue(func() *material {
	b, err := os.ReadFile(filepath.Join("testdata", "keys.json"))
	if err != nil {
		panic(err)
	}
	var file struct {
		Keys map[string]jose.JSONWebKey `json:"keys"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		panic(err)
	}
	key := func(name string) any {
		k, ok := file.Keys[name]
		if !ok || k.IsPublic() {
			panic("testdata/keys.json: no private key " + name)
		}
		return k.Key
	}
	return &material{
		es: key("es").(*ecdsa.PrivateKey), es2: key("es2").(*ecdsa.PrivateKey), evil: key("evil").(*ecdsa.PrivateKey),
		ed: key("ed").(ed25519.PrivateKey), edEvil: key("edEvil").(ed25519.PrivateKey),
		rs: key("rs").(*rsa.PrivateKey), ps: key("ps").(*rsa.PrivateKey),
	}
})

// fixture is the world of the tests: apps, their keys, an in-memory
// KeySource and SignerSource over them.
type fixture struct {
	keys map[string]*testKey
	evil *testKey // a key nobody trusts
	src  *fakeSource
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	m := keyMaterial()
	keys := []*testKey{
		{ID: "k-es", App: "app-es", Alg: jose.ES256, Priv: m.es, Signs: true},
		{ID: "k-ed", App: "app-ed", Alg: jose.EdDSA, Priv: m.ed, Signs: true},
		{ID: "k-rs", App: "app-rs", Alg: jose.RS256, Priv: m.rs, Signs: true},
		{ID: "k-ps", App: "app-ps", Alg: jose.PS256, Priv: m.ps, Signs: true},
		{ID: "k-other", App: "app-other", Alg: jose.ES256, Priv: m.es2, Signs: true},
		{ID: "k-off", App: "app-off", Alg: jose.ES256, Priv: m.es2, Signs: true},
		{ID: "k-old", App: "app-old", Alg: jose.ES256, Priv: m.es, VerifyUntil: t0.Add(-time.Hour)},
		{ID: "k-short", App: "app-short", Alg: jose.EdDSA, Priv: m.ed, Signs: true},
	}
	f := &fixture{
		keys: map[string]*testKey{},
		evil: &testKey{ID: "k-evil", App: "app-es", Alg: jose.ES256, Priv: m.evil},
		src: &fakeSource{
			apps: map[string]token.AppPolicy{
				"app-es":    {ID: "app-es", Enabled: true},
				"app-ed":    {ID: "app-ed", Enabled: true},
				"app-rs":    {ID: "app-rs", Enabled: true},
				"app-ps":    {ID: "app-ps", Enabled: true},
				"app-other": {ID: "app-other", Enabled: true},
				"app-off":   {ID: "app-off", Enabled: false},
				"app-old":   {ID: "app-old", Enabled: true},
				"app-empty": {ID: "app-empty", Enabled: true},
				"app-short": {ID: "app-short", Enabled: true, MaxTokenTTL: time.Hour, DefaultTTL: 2 * time.Hour},
			},
			signers: map[string]token.SigningKey{},
		},
	}
	for _, k := range keys {
		f.keys[k.ID] = k
		f.src.keys = append(f.src.keys, k.verifyKey())
		if k.Signs {
			sk, err := token.NewSigningKey(k.ID, k.Alg, k.Priv, k.VerifyUntil)
			if err != nil {
				t.Fatalf("NewSigningKey(%s): %v", k.ID, err)
			}
			f.src.signers[k.App] = sk
		}
	}
	return f
}

// fakeSource is an in-memory KeySource and SignerSource.
type fakeSource struct {
	apps    map[string]token.AppPolicy
	keys    []token.VerifyKey
	signers map[string]token.SigningKey
}

var (
	_ token.KeySource    = (*fakeSource)(nil)
	_ token.SignerSource = (*fakeSource)(nil)
)

func (s *fakeSource) App(appID string) (token.AppPolicy, bool) {
	a, ok := s.apps[appID]
	return a, ok
}

func (s *fakeSource) Key(kid string) (token.VerifyKey, bool) {
	i := slices.IndexFunc(s.keys, func(k token.VerifyKey) bool { return k.ID == kid })
	if i < 0 {
		return token.VerifyKey{}, false
	}
	return s.keys[i], true
}

func (s *fakeSource) AppKeys(appID string) []token.VerifyKey {
	var out []token.VerifyKey
	for _, k := range s.keys {
		if k.AppID == appID {
			out = append(out, k)
		}
	}
	return out
}

func (s *fakeSource) SigningKey(appID string, _ time.Time) (token.SigningKey, bool) {
	k, ok := s.signers[appID]
	return k, ok
}

// clone returns a copy that a test may change.
func (s *fakeSource) clone() *fakeSource {
	return &fakeSource{apps: maps.Clone(s.apps), keys: slices.Clone(s.keys), signers: maps.Clone(s.signers)}
}

// denylist revokes the tokens whose jti it holds.
type denylist map[string]bool

func (d denylist) Revoked(_, tokenID, _ string, _ time.Time) bool { return d[tokenID] }

// enc is base64url without padding.
func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// sign builds a compact JWS of the given header and payload JSON texts,
// signed by hand with key k under alg (so that tests control every byte).
func sign(t testing.TB, alg jose.SignatureAlgorithm, priv crypto.Signer, header, payload string) string {
	t.Helper()
	input := enc([]byte(header)) + "." + enc([]byte(payload))
	return input + "." + enc(signature(t, alg, priv, []byte(input)))
}

func signature(t testing.TB, alg jose.SignatureAlgorithm, priv crypto.Signer, input []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(input)
	switch alg {
	case jose.ES256:
		r, s, err := ecdsa.Sign(rand.Reader, priv.(*ecdsa.PrivateKey), sum[:])
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	case jose.EdDSA:
		return ed25519.Sign(priv.(ed25519.PrivateKey), input)
	case jose.RS256:
		sig, err := rsa.SignPKCS1v15(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case jose.PS256:
		sig, err := rsa.SignPSS(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, sum[:],
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	t.Fatalf("sign: unsupported alg %s", alg)
	return nil
}

// hs256 builds a token MACed with secret: the key-confusion attack.
func hs256(header, payload string, secret []byte) string {
	input := enc([]byte(header)) + "." + enc([]byte(payload))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + enc(m.Sum(nil))
}

// signKey signs header and payload with a fixture key, by its algorithm.
func signKey(t testing.TB, k *testKey, header, payload string) string {
	t.Helper()
	return sign(t, k.Alg, k.Priv, header, payload)
}

// hdr is a header JSON text: alg, kid when not empty, then extra members
// given as name, value pairs.
func hdr(alg jose.SignatureAlgorithm, kid string, extra ...any) string {
	m := map[string]any{"alg": string(alg)}
	if kid != "" {
		m["kid"] = kid
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// claimMod changes a claim set.
type claimMod func(map[string]any)

func set(name string, v any) claimMod { return func(m map[string]any) { m[name] = v } }
func del(name string) claimMod        { return func(m map[string]any) { delete(m, name) } }

// at sets a NumericDate claim to t.
func at(name string, t time.Time) claimMod { return set(name, t.Unix()) }

// claimsOf is the JSON text of a full claim set of app, valid at t0 with a
// one-hour lifetime, changed by mods.
func claimsOf(app string, mods ...claimMod) string {
	m := map[string]any{
		"iss": "tokend-test",
		"sub": "user-1",
		"aid": app,
		"iat": t0.Add(-time.Minute).Unix(),
		"nbf": t0.Add(-time.Minute).Unix(),
		"exp": t0.Add(59 * time.Minute).Unix(),
		"jti": "jti-1",
		"aud": []string{"svc-a", "svc-b"},
	}
	for _, mod := range mods {
		mod(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// backendToken is a token the app's own backend signs with go-jose and
// the downloaded private key: iat nbf exp sub aid only, kid optional.
func backendToken(t testing.TB, k *testKey, withKid bool, iat, exp time.Time) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if withKid {
		opts = opts.WithHeader("kid", k.ID)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: k.Priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(struct {
		Iat int64  `json:"iat"`
		Nbf int64  `json:"nbf"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
		Aid string `json:"aid"`
	}{iat.Unix(), iat.Unix(), exp.Unix(), "backend-user", k.App})
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func describe(r token.Result) string {
	return fmt.Sprintf("reason %s (%q)", r.Reason, r.Detail)
}
