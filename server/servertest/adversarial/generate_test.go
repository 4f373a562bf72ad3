package adversarial

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"hash"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/go-jose/go-jose/v4"
)

var (
	update     = flag.Bool("update", false, "rewrite testdata/adversarial/corpus.json from the generator")
	updateKeys = flag.Bool("update-keys", false, "generate NEW test keys into testdata/adversarial/fixture.json (then run -update)")
)

// corpusSeed makes the generator's randomness (ECDSA nonces, PSS salts,
// the JWE's key and IV) deterministic, so that -update reproduces the
// committed corpus byte for byte.
const corpusSeed = 8725

// TestCorpusUpToDate regenerates the corpus and compares it with the
// committed file: the table is what the generator makes. Run it with
// -update after changing the generator.
func TestCorpusUpToDate(t *testing.T) {
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if *updateKeys {
		writeFixture(t, dir)
	}
	f, err := LoadFixture(dir)
	if err != nil {
		t.Fatal(err)
	}
	cryptotest.SetGlobalRandom(t, corpusSeed)
	c := &Corpus{
		Comment: "Hostile tokens and the answer each must get from every validation path of tokend " +
			"(server, token.Validator, Go client, TypeScript and Python clients), judged at `now` " +
			"against fixture.json. Generated: do not edit by hand.",
		Generator: "go test ./server/servertest/adversarial -run TestCorpusUpToDate -update",
		Now:       f.Now,
		Rows:      generate(t, f),
	}
	for _, r := range c.Rows {
		if err := r.check(); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, CorpusFile)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d rows to %s", len(c.Rows), path)
		return
	}
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run: %s)", err, c.Generator)
	}
	if !bytes.Equal(committed, buf.Bytes()) {
		t.Fatalf("%s differs from what the generator makes: run %s", path, c.Generator)
	}
	if _, err := LoadCorpus(dir); err != nil {
		t.Fatal(err)
	}
}

// writeFixture generates new TEST-ONLY keys.
func writeFixture(t *testing.T, dir string) {
	t.Helper()
	must := func(k crypto.Signer, err error) crypto.Signer {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ec := func(c elliptic.Curve) (crypto.Signer, error) { return ecdsa.GenerateKey(c, rand.Reader) }
	ed := func() (crypto.Signer, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err }
	rs := func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) }
	key := func(kid, app, alg string, trusted bool, k crypto.Signer) FixtureKey {
		return FixtureKey{ID: kid, AppID: app, Alg: alg, Trusted: trusted,
			JWK: jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: alg, Use: "sig"}}
	}
	day := int64(24 * 3600)
	f := Fixture{
		Comment: "TEST-ONLY key pairs and apps of the adversarial corpus. These private keys are public: " +
			"never trust them anywhere. Regenerate with: go test ./server/servertest/adversarial -run TestCorpusUpToDate -update-keys -update",
		Now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		Apps: []FixtureApp{
			{ID: "app_adv_es256", Enabled: true, MaxTokenTTLSeconds: day},
			{ID: "app_adv_eddsa", Enabled: true, MaxTokenTTLSeconds: day},
			{ID: "app_adv_rs256", Enabled: true, MaxTokenTTLSeconds: day},
			{ID: "app_adv_ps256", Enabled: true, MaxTokenTTLSeconds: day},
			{ID: "app_adv_other", Enabled: true, MaxTokenTTLSeconds: day},
			{ID: "app_adv_disabled", Enabled: false, MaxTokenTTLSeconds: day},
		},
		Keys: []FixtureKey{
			key("k_adv_es256", "app_adv_es256", "ES256", true, must(ec(elliptic.P256()))),
			key("k_adv_eddsa", "app_adv_eddsa", "EdDSA", true, must(ed())),
			key("k_adv_rs256", "app_adv_rs256", "RS256", true, must(rs())),
			key("k_adv_ps256", "app_adv_ps256", "PS256", true, must(rs())),
			key("k_adv_other", "app_adv_other", "ES256", true, must(ec(elliptic.P256()))),
			key("k_adv_disabled", "app_adv_disabled", "ES256", true, must(ec(elliptic.P256()))),
			key("attacker_es256", "", "ES256", false, must(ec(elliptic.P256()))),
			key("attacker_es384", "", "ES384", false, must(ec(elliptic.P384()))),
			key("attacker_eddsa", "", "EdDSA", false, must(ed())),
			key("attacker_rs256", "", "RS256", false, must(rs())),
		},
		Revoked: []FixtureRevocation{{AppID: "app_adv_es256", TokenID: "jti-revoked"}},
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FixtureFile), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// kv is one member of a JSON object, in order.
type kv struct {
	k string
	v any // json.RawMessage for exact text
}

// obj is the JSON text of an object with the members in the given order.
func obj(members ...kv) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.k)
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(jsonText(m.v))
	}
	b.WriteByte('}')
	return b.String()
}

func jsonText(v any) string {
	if r, ok := v.(json.RawMessage); ok {
		return string(r)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

type raw = json.RawMessage

// claims is an ordered claim set.
type claims []kv

func (c claims) set(k string, v any) claims {
	out := append(claims(nil), c...)
	for i := range out {
		if out[i].k == k {
			out[i].v = v
			return out
		}
	}
	return append(out, kv{k, v})
}

func (c claims) del(ks ...string) claims {
	var out claims
	for _, m := range c {
		drop := false
		for _, k := range ks {
			drop = drop || m.k == k
		}
		if !drop {
			out = append(out, m)
		}
	}
	return out
}

func (c claims) String() string { return obj(c...) }

var b64 = base64.RawURLEncoding

func enc(s string) string { return b64.EncodeToString([]byte(s)) }

// gen builds the rows.
type gen struct {
	t    *testing.T
	f    *Fixture
	rows []Row
	iat  int64
}

func (g *gen) key(kid string) FixtureKey {
	k, ok := g.f.Key(kid)
	if !ok {
		g.t.Fatalf("no fixture key %q", kid)
	}
	return k
}

// claimsOf is the full claim set tokend issues, valid at now for app.
func (g *gen) claimsOf(app string) claims {
	return claims{
		{"iss", "tokend-adversarial"}, {"sub", "user-1"}, {"aid", app}, {"aud", []string{"svc-a"}},
		{"iat", g.iat}, {"nbf", g.iat}, {"exp", g.iat + 3600}, {"jti", "jti-" + app},
	}
}

// hdr is a header of alg and kid (omitted when empty) and more members.
func hdr(alg, kid string, more ...kv) string {
	m := []kv{{"alg", alg}}
	if kid != "" {
		m = append(m, kv{"kid", kid})
	}
	m = append(m, kv{"typ", "JWT"})
	return obj(append(m, more...)...)
}

// signWith signs header.payload with a private key under alg.
func (g *gen) signWith(alg string, priv crypto.Signer, header, payload string) string {
	input := enc(header) + "." + enc(payload)
	return input + "." + b64.EncodeToString(g.sig(alg, priv, []byte(input)))
}

func (g *gen) sig(alg string, priv crypto.Signer, input []byte) []byte {
	g.t.Helper()
	switch alg {
	case "ES256", "ES384":
		k := priv.(*ecdsa.PrivateKey)
		var digest []byte
		size := 32
		if alg == "ES384" {
			d := sha512.Sum384(input)
			digest, size = d[:], 48
		} else {
			d := sha256.Sum256(input)
			digest = d[:]
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			g.t.Fatal(err)
		}
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	case "EdDSA":
		return ed25519.Sign(priv.(ed25519.PrivateKey), input)
	case "RS256", "PS256":
		d := sha256.Sum256(input)
		var (
			s   []byte
			err error
		)
		if alg == "RS256" {
			s, err = rsa.SignPKCS1v15(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, d[:])
		} else {
			s, err = rsa.SignPSS(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		if err != nil {
			g.t.Fatal(err)
		}
		return s
	}
	g.t.Fatalf("sign: alg %s", alg)
	return nil
}

// signed signs with a fixture key by its own algorithm.
func (g *gen) signed(kid, header, payload string) string {
	k := g.key(kid)
	return g.signWith(k.Alg, k.Signer(), header, payload)
}

// mac builds a token MACed with secret: the algorithm-confusion attack.
func mac(alg string, secret []byte, header, payload string) string {
	input := enc(header) + "." + enc(payload)
	var h func() hash.Hash
	switch alg {
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		h = sha256.New
	}
	m := hmac.New(h, secret)
	m.Write([]byte(input))
	return input + "." + b64.EncodeToString(m.Sum(nil))
}

// publicPEM is the PEM of a key's public half, as a JWKS consumer or a
// downloaded file would hold it.
func (g *gen) publicPEM(kid string) []byte {
	der, err := x509.MarshalPKIXPublicKey(g.key(kid).Signer().Public())
	if err != nil {
		g.t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// publicJWK is the JSON text of a key's public JWK, as the JWKS serves it.
func (g *gen) publicJWK(kid string) []byte {
	k := g.key(kid)
	b, err := json.Marshal(jose.JSONWebKey{Key: k.Signer().Public(), KeyID: k.ID, Algorithm: k.Alg, Use: "sig"})
	if err != nil {
		g.t.Fatal(err)
	}
	return b
}

func (g *gen) add(r Row) { g.rows = append(g.rows, r) }

func invalid(reason string) Want { return Want{Reason: reason} }

func requestError(reason string) Want {
	return Want{Error: &WantError{Code: "INVALID_ARGUMENT", Reason: reason}}
}

// selfSignedDER is a certificate for the attacker's key (x5c).
func (g *gen) selfSignedDER(kid string) []byte {
	k := g.key(kid)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(8725), Subject: pkix.Name{CommonName: "tokend.example"},
		NotBefore: g.f.Now.Add(-time.Hour), NotAfter: g.f.Now.Add(365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Signer().Public(), k.Signer())
	if err != nil {
		g.t.Fatal(err)
	}
	return der
}

// jwe is a compact JWE (dir, A256GCM) of a JWT.
func (g *gen) jwe(plaintext string) string {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		g.t.Fatal(err)
	}
	e, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.DIRECT, Key: key},
		(&jose.EncrypterOptions{}).WithType("JWT").WithContentType("JWT"))
	if err != nil {
		g.t.Fatal(err)
	}
	obj, err := e.Encrypt([]byte(plaintext))
	if err != nil {
		g.t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		g.t.Fatal(err)
	}
	return s
}

// nested is JSON text nested depth levels deep in arrays.
func nested(depth int) raw {
	return raw(strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth))
}

// generate is the table. Every row states the answer by design; the tests
// of each validation path check that they give it.
func generate(t *testing.T, f *Fixture) []Row {
	g := &gen{t: t, f: f, iat: f.Now.Add(-time.Minute).Unix()}
	es, ed, rs, ps := "k_adv_es256", "k_adv_eddsa", "k_adv_rs256", "k_adv_ps256"
	esApp := "app_adv_es256"
	esClaims := g.claimsOf(esApp)
	esHdr := hdr("ES256", es)
	valid := g.signed(es, esHdr, esClaims.String())
	parts := strings.Split(valid, ".")
	attacker := g.key("attacker_es256").Signer()

	// The valid baselines: every algorithm, and a backend-signed token
	// without kid carrying only iat nbf exp sub aid.
	for _, k := range []string{es, ed, rs, ps} {
		fk := g.key(k)
		g.add(Row{Name: "valid " + fk.Alg, Class: "baseline", Token: g.signed(k, hdr(fk.Alg, k), g.claimsOf(fk.AppID).String()),
			AppID: fk.AppID, Audience: "svc-a", Want: Want{Valid: true, Subject: "user-1", KeyID: k}})
	}
	backend := claims{{"iat", g.iat}, {"nbf", g.iat}, {"exp", g.iat + 3600}, {"sub", "backend-user"}, {"aid", esApp}}
	g.add(Row{Name: "valid backend token without kid", Class: "baseline",
		Token: g.signed(es, obj(kv{"alg", "ES256"}, kv{"typ", "JWT"}), backend.String()),
		Want:  Want{Valid: true, Subject: "backend-user", KeyID: es}})

	// alg none, in any case (RFC 8725 2.1, 3.1).
	noneRefs := []string{"RFC 8725 2.1", "RFC 8725 3.1", "CVE-2015-9235"}
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		g.add(Row{Name: "alg " + alg + " without signature", Class: "alg-none", Refs: noneRefs,
			Token: enc(hdr(alg, "")) + "." + enc(esClaims.String()) + ".", Want: invalid("UNSUPPORTED_ALGORITHM")})
	}
	g.add(Row{Name: "alg none with kid and a real signature", Class: "alg-none", Refs: noneRefs,
		Token: enc(hdr("none", es)) + "." + parts[1] + "." + parts[2], Want: invalid("UNSUPPORTED_ALGORITHM")})
	g.add(Row{Name: "alg missing", Class: "alg-none", Refs: noneRefs,
		Token: g.signed(es, obj(kv{"kid", es}, kv{"typ", "JWT"}), esClaims.String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "alg empty string", Class: "alg-none", Refs: noneRefs,
		Token: enc(hdr("", es)) + "." + parts[1] + ".", Want: invalid("UNSUPPORTED_ALGORITHM")})
	g.add(Row{Name: "stripped signature", Class: "alg-none", Refs: []string{"RFC 8725 3.1", "CVE-2020-28042"},
		Token: parts[0] + "." + parts[1] + ".", Want: invalid("BAD_SIGNATURE")})

	// HMAC keyed with the public key: algorithm confusion (RFC 8725 2.1, 3.1).
	hsRefs := []string{"RFC 8725 3.1", "CVE-2015-9235", "CVE-2016-10555", "CVE-2017-11424", "CVE-2022-29217"}
	for _, tc := range []struct {
		name, alg, kid string
		secret         []byte
		claims         claims
	}{
		{"HS256 keyed with the ES256 public key PEM", "HS256", es, g.publicPEM(es), esClaims},
		{"HS256 keyed with the ES256 public key PEM, no kid", "HS256", "", g.publicPEM(es), esClaims},
		{"HS256 keyed with the ES256 public key JWK", "HS256", es, g.publicJWK(es), esClaims},
		{"HS256 keyed with the RS256 public key PEM", "HS256", rs, g.publicPEM(rs), g.claimsOf("app_adv_rs256")},
		{"HS384 keyed with the RS256 public key PEM", "HS384", rs, g.publicPEM(rs), g.claimsOf("app_adv_rs256")},
		{"HS512 keyed with the EdDSA public key JWK", "HS512", ed, g.publicJWK(ed), g.claimsOf("app_adv_eddsa")},
		{"HS256 keyed with the empty key", "HS256", es, nil, esClaims},
	} {
		g.add(Row{Name: tc.name, Class: "hmac-public-key", Refs: hsRefs,
			Token: mac(tc.alg, tc.secret, hdr(tc.alg, tc.kid), tc.claims.String()), Want: invalid("UNSUPPORTED_ALGORITHM")})
	}

	// Keys carried by the token (RFC 8725 3.10; CVE-2018-0114).
	attJWK := json.RawMessage(g.publicJWK("attacker_es256"))
	g.add(Row{Name: "embedded jwk of the attacker", Class: "embedded-key", Refs: []string{"RFC 8725 3.10", "CVE-2018-0114"},
		Token: g.signWith("ES256", attacker, hdr("ES256", "", kv{"jwk", attJWK}), esClaims.String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "embedded jwk of the real key, really signed", Class: "embedded-key", Refs: []string{"RFC 8725 3.10", "CVE-2018-0114"},
		Token: g.signed(es, hdr("ES256", es, kv{"jwk", json.RawMessage(g.publicJWK(es))}), esClaims.String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "jku to the attacker's JWKS", Class: "embedded-key", Refs: []string{"RFC 8725 3.10"},
		Token: g.signWith("ES256", attacker, hdr("ES256", "attacker_es256", kv{"jku", "https://attacker.example/jwks.json"}), esClaims.String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "x5u to the attacker's certificate", Class: "embedded-key", Refs: []string{"RFC 8725 3.10"},
		Token: g.signWith("ES256", attacker, hdr("ES256", "", kv{"x5u", "https://attacker.example/cert.pem"}), esClaims.String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "x5c with the attacker's self-signed certificate", Class: "embedded-key", Refs: []string{"RFC 8725 3.10"},
		Token: g.signWith("ES256", attacker, hdr("ES256", "", kv{"x5c", []string{base64.StdEncoding.EncodeToString(g.selfSignedDER("attacker_es256"))}}), esClaims.String()),
		Want:  invalid("MALFORMED")})

	// kid as an injection vector (RFC 8725 2.8, 3.10): never a path, never SQL.
	kidRefs := []string{"RFC 8725 2.8", "RFC 8725 3.10"}
	for _, tc := range []struct{ name, kid string }{
		{"kid path traversal", "../../../../../../dev/null"},
		{"kid absolute path", "/etc/passwd"},
		{"kid SQL injection", "k_adv_es256' OR '1'='1"},
		{"kid SQL injection union", "x' UNION SELECT public_jwk FROM keys--"},
		{"kid with NUL after a real kid", "k_adv_es256\x00"},
		{"kid of the real key in upper case", "K_ADV_ES256"},
		{"kid URL", "https://attacker.example/key"},
	} {
		g.add(Row{Name: tc.name, Class: "kid-injection", Refs: kidRefs,
			Token: g.signWith("ES256", attacker, hdr("ES256", tc.kid), esClaims.String()), Want: invalid("UNKNOWN_KEY")})
	}
	g.add(Row{Name: "kid of another app", Class: "kid-injection", Refs: []string{"RFC 8725 2.7"},
		Token: g.signed("k_adv_other", hdr("ES256", "k_adv_other"), esClaims.String()), Want: invalid("UNKNOWN_KEY")})
	g.add(Row{Name: "kid a number", Class: "kid-injection", Refs: kidRefs,
		Token: g.signWith("ES256", attacker, obj(kv{"alg", "ES256"}, kv{"kid", 1}), esClaims.String()), Want: invalid("MALFORMED")})

	// ECDSA signatures that broken verifiers accept (CVE-2022-21449).
	psychic := []string{"CVE-2022-21449"}
	n := elliptic.P256().Params().N
	rsN := make([]byte, 64)
	n.FillBytes(rsN[:32])
	n.FillBytes(rsN[32:])
	g.add(Row{Name: "ECDSA all-zero signature (r = s = 0)", Class: "psychic-signature", Refs: psychic,
		Token: parts[0] + "." + parts[1] + "." + b64.EncodeToString(make([]byte, 64)), Want: invalid("BAD_SIGNATURE")})
	g.add(Row{Name: "ECDSA all-zero signature without kid", Class: "psychic-signature", Refs: psychic,
		Token: enc(hdr("ES256", "")) + "." + parts[1] + "." + b64.EncodeToString(make([]byte, 64)), Want: invalid("BAD_SIGNATURE")})
	g.add(Row{Name: "ECDSA r = s = n (the curve order)", Class: "psychic-signature", Refs: psychic,
		Token: parts[0] + "." + parts[1] + "." + b64.EncodeToString(rsN), Want: invalid("BAD_SIGNATURE")})
	g.add(Row{Name: "ECDSA DER-encoded zero signature", Class: "psychic-signature", Refs: psychic,
		Token: parts[0] + "." + parts[1] + "." + b64.EncodeToString([]byte{0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00}), Want: invalid("BAD_SIGNATURE")})
	g.add(Row{Name: "EdDSA all-zero signature", Class: "psychic-signature", Refs: psychic,
		Token: enc(hdr("EdDSA", ed)) + "." + enc(g.claimsOf("app_adv_eddsa").String()) + "." + b64.EncodeToString(make([]byte, 64)), Want: invalid("BAD_SIGNATURE")})
	g.add(Row{Name: "RSA all-zero signature", Class: "psychic-signature", Refs: psychic,
		Token: enc(hdr("RS256", rs)) + "." + enc(g.claimsOf("app_adv_rs256").String()) + "." + b64.EncodeToString(make([]byte, 256)), Want: invalid("BAD_SIGNATURE")})

	// Curves and algorithms that do not fit the key (RFC 8725 3.1, 3.4).
	curveRefs := []string{"RFC 8725 3.1", "RFC 8725 3.4"}
	g.add(Row{Name: "ES256 header, signed with a P-384 key", Class: "curve-mismatch", Refs: curveRefs,
		Token: g.signWith("ES384", g.key("attacker_es384").Signer(), esHdr, esClaims.String()), Want: invalid("BAD_SIGNATURE")})
	g.add(Row{Name: "ES384 header on an ES256 key", Class: "curve-mismatch", Refs: curveRefs,
		Token: g.signWith("ES384", g.key("attacker_es384").Signer(), hdr("ES384", es), esClaims.String()), Want: invalid("UNSUPPORTED_ALGORITHM")})
	g.add(Row{Name: "ES256K header", Class: "curve-mismatch", Refs: curveRefs,
		Token: g.signWith("ES256", attacker, hdr("ES256K", es), esClaims.String()), Want: invalid("UNSUPPORTED_ALGORITHM")})
	g.add(Row{Name: "ES256 header on the EdDSA key", Class: "curve-mismatch", Refs: curveRefs,
		Token: g.signWith("EdDSA", g.key(ed).Signer(), hdr("ES256", ed), g.claimsOf("app_adv_eddsa").String()), Want: invalid("UNSUPPORTED_ALGORITHM")})
	g.add(Row{Name: "PS256 header on the RS256 key", Class: "curve-mismatch", Refs: curveRefs,
		Token: g.signWith("PS256", g.key(rs).Signer(), hdr("PS256", rs), g.claimsOf("app_adv_rs256").String()), Want: invalid("UNSUPPORTED_ALGORITHM")})
	g.add(Row{Name: "RS256 header on the PS256 key", Class: "curve-mismatch", Refs: curveRefs,
		Token: g.signWith("RS256", g.key(ps).Signer(), hdr("RS256", ps), g.claimsOf("app_adv_ps256").String()), Want: invalid("UNSUPPORTED_ALGORITHM")})
	g.add(Row{Name: "alg with a Cyrillic E", Class: "curve-mismatch", Refs: curveRefs,
		Token: g.signed(es, hdr("\u0415S256", es), esClaims.String()), Want: invalid("UNSUPPORTED_ALGORITHM")})

	// Size and shape: huge headers, many dots (CVE-2025-27144, CVE-2025-30204).
	dosRefs := []string{"CVE-2025-27144", "CVE-2025-30204"}
	g.add(Row{Name: "huge header within the size limit", Class: "huge-header", Refs: dosRefs,
		Token: g.signWith("ES256", attacker, hdr("ES256", es, kv{"pad", strings.Repeat("A", 5000)}), esClaims.String()), Want: invalid("BAD_SIGNATURE")})
	g.add(Row{Name: "huge header over the size limit", Class: "huge-header", Refs: dosRefs,
		Token: g.signWith("ES256", attacker, hdr("ES256", es, kv{"pad", strings.Repeat("A", 9000)}), esClaims.String()), Want: requestError("TOKEN_TOO_LARGE")})
	g.add(Row{Name: "64 KiB of token", Class: "huge-header", Refs: dosRefs,
		Token: strings.Repeat("A", 64<<10), Want: requestError("TOKEN_TOO_LARGE")})
	g.add(Row{Name: "4000 dots", Class: "many-dots", Refs: dosRefs, Token: strings.Repeat(".", 4000), Want: invalid("MALFORMED")})
	g.add(Row{Name: "valid token with 1500 more segments", Class: "many-dots", Refs: dosRefs,
		Token: valid + strings.Repeat(".e30", 1500), Want: invalid("MALFORMED")})
	g.add(Row{Name: "valid token with a fourth segment", Class: "many-dots", Refs: dosRefs,
		Token: valid + "." + parts[2], Want: invalid("MALFORMED")})
	g.add(Row{Name: "two segments", Class: "many-dots", Token: parts[0] + "." + parts[1], Want: invalid("MALFORMED")})

	// Deep JSON nesting.
	g.add(Row{Name: "header nested 2000 arrays deep", Class: "deep-nesting",
		Token: g.signWith("ES256", attacker, hdr("ES256", es, kv{"x", nested(2000)}), esClaims.String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "claim nested 2000 arrays deep, really signed", Class: "deep-nesting",
		Token: g.signed(es, esHdr, esClaims.set("deep", nested(2000)).String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "claim nested 100 objects deep, really signed", Class: "deep-nesting",
		Token: g.signed(es, esHdr, esClaims.set("deep", raw(strings.Repeat(`{"a":`, 100)+"1"+strings.Repeat("}", 100))).String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "claim nested 8 deep, really signed", Class: "deep-nesting",
		Token: g.signed(es, esHdr, esClaims.set("deep", raw(strings.Repeat(`{"a":[`, 4)+"1"+strings.Repeat("]}", 4))).String()),
		Want:  Want{Valid: true, Subject: "user-1", KeyID: es}})

	// Duplicate members (RFC 7515 section 4, RFC 8725 3.12).
	dupRefs := []string{"RFC 7515 4", "RFC 8725 3.12"}
	g.add(Row{Name: "duplicate alg, none last", Class: "duplicate-keys", Refs: dupRefs,
		Token: g.signed(es, `{"alg":"ES256","kid":"k_adv_es256","alg":"none"}`, esClaims.String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "duplicate kid, escaped", Class: "duplicate-keys", Refs: dupRefs,
		Token: g.signed(es, `{"alg":"ES256","kid":"k_adv_es256","\u006bid":"k_adv_other"}`, esClaims.String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "duplicate sub", Class: "duplicate-keys", Refs: dupRefs,
		Token: g.signed(es, esHdr, `{"sub":"admin",`+esClaims.String()[1:]), Want: invalid("MALFORMED")})
	g.add(Row{Name: "duplicate aid, escaped", Class: "duplicate-keys", Refs: dupRefs,
		Token: g.signed(es, esHdr, esClaims.String()[:len(esClaims.String())-1]+`,"\u0061id":"app_adv_other"}`), Want: invalid("MALFORMED")})
	g.add(Row{Name: "duplicate exp", Class: "duplicate-keys", Refs: dupRefs,
		Token: g.signed(es, esHdr, esClaims.String()[:len(esClaims.String())-1]+fmt.Sprintf(`,"exp":%d}`, g.iat+30*24*3600)), Want: invalid("MALFORMED")})

	// Encodings (RFC 8725 3.7).
	utfRefs := []string{"RFC 8725 3.7"}
	g.add(Row{Name: "token bytes not UTF-8", Class: "not-utf8", Refs: utfRefs,
		TokenBase64: base64.StdEncoding.EncodeToString(append([]byte(valid), 0xff)), Want: requestError("TOKEN_NOT_UTF8")})
	g.add(Row{Name: "token of Latin-1 bytes", Class: "not-utf8", Refs: utfRefs,
		TokenBase64: base64.StdEncoding.EncodeToString([]byte("eyJ\xe9\xe8.\xa0.\xff")), Want: requestError("TOKEN_NOT_UTF8")})
	g.add(Row{Name: "header JSON not UTF-8", Class: "not-utf8", Refs: utfRefs,
		Token: b64.EncodeToString([]byte("{\"alg\":\"ES256\",\"kid\":\"k_adv_es256\",\"x\":\"\xff\"}")) + "." + parts[1] + "." + parts[2], Want: invalid("MALFORMED")})
	g.add(Row{Name: "claims JSON in UTF-16", Class: "not-utf8", Refs: []string{"RFC 8725 2.6", "RFC 8725 3.7"},
		Token: g.signed(es, esHdr, utf16(esClaims.String())), Want: invalid("MALFORMED")})
	g.add(Row{Name: "non-ASCII in the token", Class: "not-utf8", Refs: utfRefs,
		Token: valid + "é", Want: invalid("MALFORMED")})
	g.add(Row{Name: "standard base64 alphabet with padding", Class: "not-utf8",
		Token: base64.StdEncoding.EncodeToString([]byte(esHdr)) + "." + parts[1] + "." + parts[2], Want: invalid("MALFORMED")})
	g.add(Row{Name: "Bearer prefix", Class: "not-utf8", Token: "Bearer " + valid, Want: invalid("MALFORMED")})
	g.add(Row{Name: "empty token", Class: "not-utf8", Token: "", Want: requestError("TOKEN_EMPTY")})

	// Encrypted and nested tokens (RFC 8725 2.3, 3.3, 3.11).
	g.add(Row{Name: "JWE compact (dir, A256GCM)", Class: "jwe", Refs: []string{"RFC 8725 3.11"},
		Token: g.jwe(valid), Want: invalid("MALFORMED")})
	g.add(Row{Name: "JWS JSON serialization", Class: "jwe", Refs: []string{"RFC 8725 3.11"},
		Token: obj(kv{"payload", parts[1]}, kv{"protected", parts[0]}, kv{"signature", parts[2]}), Want: invalid("MALFORMED")})
	g.add(Row{Name: "nested JWT (cty JWT) around a valid token", Class: "nested-jwt", Refs: []string{"RFC 8725 2.3", "RFC 8725 3.3"},
		Token: g.signWith("ES256", attacker, obj(kv{"alg", "ES256"}, kv{"cty", "JWT"}), valid), Want: invalid("MALFORMED")})
	g.add(Row{Name: "nested JWT really signed", Class: "nested-jwt", Refs: []string{"RFC 8725 2.3", "RFC 8725 3.3"},
		Token: g.signed(es, hdr("ES256", es, kv{"cty", "JWT"}), esClaims.String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "typ of a JWE", Class: "nested-jwt", Refs: []string{"RFC 8725 3.11"},
		Token: g.signed(es, obj(kv{"alg", "ES256"}, kv{"kid", es}, kv{"typ", "JOSE+JSON"}), esClaims.String()), Want: invalid("MALFORMED")})

	// Time claims of the wrong JSON type or overflowing (RFC 7519 2).
	timeRefs := []string{"RFC 7519 2", "RFC 7519 4.1.4"}
	for _, tc := range []struct {
		name, claim string
		v           any
	}{
		{"exp a string", "exp", fmt.Sprint(g.iat + 3600)},
		{"exp an array", "exp", []int64{g.iat + 3600}},
		{"exp null", "exp", nil},
		{"exp 1e400 (overflows a float64)", "exp", raw("1e400")},
		{"exp 20 digits", "exp", raw("99999999999999999999")},
		{"exp after the year 9999", "exp", int64(253402300800)},
		{"exp negative", "exp", -1},
		{"iat a boolean", "iat", true},
		{"iat 1e300", "iat", raw("1e300")},
		{"iat NaN as a string", "iat", "NaN"},
		{"nbf an object", "nbf", map[string]int64{"t": g.iat}},
		{"nbf negative zero point five", "nbf", raw("-0.5")},
	} {
		g.add(Row{Name: tc.name, Class: "time-claims", Refs: timeRefs,
			Token: g.signed(es, esHdr, esClaims.set(tc.claim, tc.v).String()), Want: invalid("MALFORMED")})
	}
	g.add(Row{Name: "expired", Class: "time-claims", Refs: timeRefs,
		Token: g.signed(es, esHdr, esClaims.set("iat", g.iat-7200).set("nbf", g.iat-7200).set("exp", g.iat-3600).String()), Want: invalid("EXPIRED")})
	g.add(Row{Name: "nbf in the future", Class: "time-claims", Refs: timeRefs,
		Token: g.signed(es, esHdr, esClaims.set("nbf", g.iat+600).String()), Want: invalid("NOT_YET_VALID")})
	g.add(Row{Name: "iat in the future", Class: "time-claims", Refs: timeRefs,
		Token: g.signed(es, esHdr, esClaims.set("iat", g.iat+600).set("nbf", g.iat+600).set("exp", g.iat+4200).String()), Want: invalid("NOT_YET_VALID")})
	g.add(Row{Name: "lifetime of 30 days", Class: "time-claims", Refs: timeRefs,
		Token: g.signed(es, esHdr, esClaims.set("exp", g.iat+30*24*3600).String()), Want: invalid("LIFETIME_TOO_LONG")})
	g.add(Row{Name: "exp before iat", Class: "time-claims", Refs: timeRefs,
		Token: g.signed(es, esHdr, esClaims.set("exp", g.iat-1).set("iat", g.iat+10).del("nbf").String()), Want: invalid("EXPIRED")})

	// Critical headers (RFC 7515 4.1.11).
	critRefs := []string{"RFC 7515 4.1.11"}
	g.add(Row{Name: "unknown crit", Class: "crit", Refs: critRefs,
		Token: g.signed(es, hdr("ES256", es, kv{"crit", []string{"urn:example:x"}}, kv{"urn:example:x", true}), esClaims.String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "crit exp", Class: "crit", Refs: critRefs,
		Token: g.signed(es, hdr("ES256", es, kv{"crit", []string{"exp"}}, kv{"exp", g.iat + 3600}), esClaims.String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "crit b64 false (unencoded payload)", Class: "crit", Refs: []string{"RFC 7515 4.1.11", "RFC 7797"},
		Token: g.signed(es, hdr("ES256", es, kv{"b64", false}, kv{"crit", []string{"b64"}}), esClaims.String()), Want: invalid("MALFORMED")})
	g.add(Row{Name: "crit empty list", Class: "crit", Refs: critRefs,
		Token: g.signed(es, hdr("ES256", es, kv{"crit", []string{}}), esClaims.String()), Want: invalid("MALFORMED")})

	// Substitution and claim checks (RFC 8725 2.7, 3.8, 3.9).
	g.add(Row{Name: "tampered subject", Class: "substitution", Refs: []string{"RFC 8725 3.1"},
		Token: parts[0] + "." + enc(esClaims.set("sub", "admin").String()) + "." + parts[2], Want: invalid("BAD_SIGNATURE")})
	g.add(Row{Name: "signed by the attacker with the real kid", Class: "substitution", Refs: []string{"RFC 8725 3.1"},
		Token: g.signWith("ES256", attacker, esHdr, esClaims.String()), Want: invalid("BAD_SIGNATURE")})
	g.add(Row{Name: "aid of another app than the request's", Class: "substitution", Refs: []string{"RFC 8725 2.7"},
		Token: valid, AppID: "app_adv_other", Want: invalid("APP_MISMATCH")})
	g.add(Row{Name: "audience not the request's", Class: "substitution", Refs: []string{"RFC 8725 3.9"},
		Token: valid, Audience: "svc-b", Want: invalid("AUDIENCE_MISMATCH")})
	g.add(Row{Name: "aud an empty array", Class: "substitution", Refs: []string{"RFC 8725 3.9", "CVE-2020-26160"},
		Token: g.signed(es, esHdr, esClaims.set("aud", []string{}).String()), Audience: "svc-a", Want: invalid("AUDIENCE_MISMATCH")})
	g.add(Row{Name: "aud an array with a number", Class: "substitution", Refs: []string{"RFC 8725 3.9", "CVE-2020-26160"},
		Token: g.signed(es, esHdr, esClaims.set("aud", []any{"svc-a", 1}).String()), Audience: "svc-a", Want: invalid("MALFORMED")})
	g.add(Row{Name: "unknown app", Class: "substitution", Refs: []string{"RFC 8725 3.8"},
		Token: g.signWith("ES256", attacker, esHdr, esClaims.set("aid", "app_adv_nope").String()), Want: invalid("UNKNOWN_APP")})
	g.add(Row{Name: "disabled app", Class: "substitution",
		Token: g.signed("k_adv_disabled", hdr("ES256", "k_adv_disabled"), g.claimsOf("app_adv_disabled").String()), Want: invalid("APP_DISABLED")})
	g.add(Row{Name: "revoked token id", Class: "substitution",
		Token: g.signed(es, esHdr, esClaims.set("jti", "jti-revoked").String()), Want: invalid("REVOKED")})
	g.add(Row{Name: "sub missing", Class: "substitution", Refs: []string{"RFC 8725 3.8"},
		Token: g.signed(es, esHdr, esClaims.del("sub").String()), Want: invalid("MISSING_CLAIM")})
	g.add(Row{Name: "aid missing, no kid", Class: "substitution", Refs: []string{"RFC 8725 3.8"},
		Token: g.signed(es, hdr("ES256", ""), esClaims.del("aid").String()), Want: invalid("MISSING_CLAIM")})
	g.add(Row{Name: "exp missing", Class: "substitution", Refs: []string{"RFC 8725 3.8"},
		Token: g.signed(es, esHdr, esClaims.del("exp").String()), Want: invalid("MISSING_CLAIM")})
	return g.rows
}

// utf16 encodes s as UTF-16LE with a byte order mark.
func utf16(s string) string {
	out := []byte{0xff, 0xfe}
	for _, r := range s {
		out = append(out, byte(r), byte(r>>8))
	}
	return string(out)
}
