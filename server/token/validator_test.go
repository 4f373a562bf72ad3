package token_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/token"
)

func TestValidateRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, app := range []string{"app-es", "app-ed", "app-rs", "app-ps"} {
		t.Run(app, func(t *testing.T) {
			t.Parallel()
			iss := token.NewIssuer(f.src, "tokend-test", token.WithIssuerClock(clockAt(t0)))
			got, err := iss.Issue(token.IssueRequest{
				AppID: app, Subject: "user-1", TTL: 15 * time.Minute,
				Audience: []string{"svc-a"}, Extra: map[string]any{"role": "reader"},
			})
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			v := token.NewValidator(f.src, token.WithClock(clockAt(t0.Add(5*time.Minute))))
			res, err := v.Validate(got.Token, token.Expect{Audience: "svc-a", AppID: app})
			if err != nil || !res.Valid() {
				t.Fatalf("Validate = %s, %v; want valid", describe(res), err)
			}
			want := token.Claims{
				Issuer: "tokend-test", Subject: "user-1", AppID: app, Audience: []string{"svc-a"},
				IssuedAt: t0, NotBefore: t0, ExpiresAt: t0.Add(15 * time.Minute), ID: got.ID,
				Extra: map[string]any{"role": "reader"},
			}
			if !reflect.DeepEqual(res.Claims, want) {
				t.Errorf("claims = %+v\nwant %+v", res.Claims, want)
			}
			if res.KeyID != got.KeyID || res.KeyID != f.src.signers[app].ID {
				t.Errorf("KeyID = %q, issued with %q", res.KeyID, got.KeyID)
			}
			if res.Detail != "" {
				t.Errorf("Detail = %q for a valid token", res.Detail)
			}
		})
	}
}

// TestValidateBackendTokens: tokens an app's backend signs with go-jose and
// the downloaded private key validate, with and without kid.
func TestValidateBackendTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v := token.NewValidator(f.src, token.WithClock(clockAt(t0)))
	for _, kid := range []string{"k-es", "k-ed", "k-rs", "k-ps"} {
		for _, withKid := range []bool{true, false} {
			name := kid + "/no-kid"
			if withKid {
				name = kid + "/kid"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				k := f.keys[kid]
				raw := backendToken(t, k, withKid, t0.Add(-time.Minute), t0.Add(time.Hour))
				res, err := v.Validate(raw, token.Expect{AppID: k.App})
				if err != nil || !res.Valid() {
					t.Fatalf("Validate = %s, %v; want valid", describe(res), err)
				}
				c := res.Claims
				if c.Subject != "backend-user" || c.AppID != k.App || c.ID != "" || c.Issuer != "" || c.Audience != nil || c.Extra != nil {
					t.Errorf("claims = %+v", c)
				}
				if res.KeyID != k.ID {
					t.Errorf("KeyID = %q, want %q", res.KeyID, k.ID)
				}
			})
		}
	}
}

type validateCase struct {
	name   string
	token  string
	expect token.Expect
	now    time.Time      // zero: t0
	leeway *time.Duration // nil: default
	want   token.Reason
}

func ptr[T any](v T) *T { return &v }

func validateCases(t testing.TB, f *fixture) []validateCase {
	es, ed, rs, ps := f.keys["k-es"], f.keys["k-ed"], f.keys["k-rs"], f.keys["k-ps"]
	other, old := f.keys["k-other"], f.keys["k-old"]
	esHdr := hdr(jose.ES256, "k-es", "typ", "JWT")
	valid := signKey(t, es, esHdr, claimsOf("app-es"))
	parts := strings.Split(valid, ".")
	esClaims := claimsOf("app-es")

	pubDER, err := x509.MarshalPKIXPublicKey(es.Priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pubJWK, err := json.Marshal(jose.JSONWebKey{Key: es.Priv.Public(), KeyID: "k-es", Algorithm: "ES256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	evilJWK := map[string]any{}
	if b, err := json.Marshal(jose.JSONWebKey{Key: f.evil.Priv.Public()}); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &evilJWK); err != nil {
		t.Fatal(err)
	}

	// A real JWE (5 parts) and a real JWS JSON serialization.
	encrypter, err := jose.NewEncrypter(jose.A128GCM, jose.Recipient{Algorithm: jose.A128KW, Key: make([]byte, 16)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jwe, err := encrypter.Encrypt([]byte(esClaims))
	if err != nil {
		t.Fatal(err)
	}
	jweCompact, err := jwe.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: es.Priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k-es"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign([]byte(esClaims))
	if err != nil {
		t.Fatal(err)
	}
	jsonSerialized := jws.FullSerialize()

	// Boundaries of the clock rules, at leeway 30 s.
	exp := t0.Add(59 * time.Minute)
	lw := token.DefaultLeeway
	future := t0.Add(10 * time.Minute)

	return []validateCase{
		// Valid shapes.
		{name: "valid ES256", token: valid},
		{name: "valid expected app and audience", token: valid, expect: token.Expect{AppID: "app-es", Audience: "svc-b"}},
		{name: "valid EdDSA", token: signKey(t, ed, hdr(jose.EdDSA, "k-ed"), claimsOf("app-ed"))},
		{name: "valid RS256", token: signKey(t, rs, hdr(jose.RS256, "k-rs"), claimsOf("app-rs"))},
		{name: "valid PS256", token: signKey(t, ps, hdr(jose.PS256, "k-ps"), claimsOf("app-ps"))},
		{name: "valid without kid", token: signKey(t, es, hdr(jose.ES256, ""), esClaims)},
		{name: "valid typ at+jwt", token: signKey(t, es, hdr(jose.ES256, "k-es", "typ", "at+jwt"), esClaims)},
		{name: "valid typ application/JWT", token: signKey(t, es, hdr(jose.ES256, "k-es", "typ", "application/JWT"), esClaims)},
		{name: "valid cty other than JWT", token: signKey(t, es, hdr(jose.ES256, "k-es", "cty", "json"), esClaims)},
		{name: "valid x5t thumbprint ignored", token: signKey(t, es, hdr(jose.ES256, "k-es", "x5t", "abc"), esClaims)},
		{name: "valid aud as string", token: signKey(t, es, esHdr, claimsOf("app-es", set("aud", "svc-a"))), expect: token.Expect{Audience: "svc-a"}},
		{name: "valid non-integer NumericDates", token: signKey(t, es, esHdr, claimsOf("app-es",
			set("iat", float64(t0.Unix())-0.25), set("exp", float64(t0.Unix())+600.5)))},
		{name: "valid without nbf jti iss aud", token: signKey(t, es, esHdr, claimsOf("app-es", del("nbf"), del("jti"), del("iss"), del("aud")))},
		{name: "valid escaped member names", token: signKey(t, es, `{"\u0061lg":"ES256","kid":"k-es"}`,
			`{"\u0073ub":"user-1","aid":"app-es","iat":`+itoa(t0.Add(-time.Minute))+`,"exp":`+itoa(exp)+`}`)},
		{name: "valid JSON with whitespace and tricky nesting", token: signKey(t, es, " {\n\t\"alg\" : \"ES256\" ,\r\n \"kid\":\"k-es\"\n}\n",
			` { "x" : { "sub" : "}\"]" , "b" : [ 1 , { "c" : "[" } , [ ] ] } , "y":"\"sub\":1,\\" ,`+
				` "sub" : "user-1" , "aid" : "app-es" , "iat" : `+itoa(t0.Add(-time.Minute))+` , "exp" : `+itoa(exp)+` , "aud" : [ "svc-a" , "svc-b" ] } `),
			expect: token.Expect{Audience: "svc-b"}},
		{name: "valid extra claims", token: signKey(t, es, esHdr, claimsOf("app-es", set("scope", []string{"a"}), set("n", 1.5)))},
		{name: "valid lifetime exactly the maximum", token: signKey(t, es, esHdr, claimsOf("app-es",
			at("iat", t0.Add(-time.Hour)), at("exp", t0.Add(23*time.Hour))))},

		// MALFORMED: shape.
		{name: "garbage", token: "not a jwt", want: token.ReasonMalformed},
		{name: "one part", token: parts[0], want: token.ReasonMalformed},
		{name: "two parts", token: parts[0] + "." + parts[1], want: token.ReasonMalformed},
		{name: "four parts", token: valid + "." + parts[2], want: token.ReasonMalformed},
		{name: "many dots", token: strings.Repeat(".", 40), want: token.ReasonMalformed},
		{name: "dots only", token: "..", want: token.ReasonMalformed},
		{name: "JWE five parts", token: jweCompact, want: token.ReasonMalformed},
		{name: "JSON serialization", token: jsonSerialized, want: token.ReasonMalformed},
		{name: "padding", token: parts[0] + "==." + parts[1] + "." + parts[2], want: token.ReasonMalformed},
		{name: "standard base64 alphabet", token: strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/", want: token.ReasonMalformed},
		{name: "line break", token: parts[0] + "\n." + parts[1] + "." + parts[2], want: token.ReasonMalformed},
		{name: "space", token: " " + valid, want: token.ReasonMalformed},
		{name: "non-ASCII UTF-8", token: valid + "é", want: token.ReasonMalformed},
		{name: "non-canonical base64 tail", token: parts[0] + "." + parts[1] + "." + flipTail(parts[2]), want: token.ReasonMalformed},
		{name: "empty header", token: "." + parts[1] + "." + parts[2], want: token.ReasonMalformed},
		{name: "empty payload", token: parts[0] + ".." + parts[2], want: token.ReasonMalformed},
		{name: "header not JSON", token: enc([]byte("alg=ES256")) + "." + parts[1] + "." + parts[2], want: token.ReasonMalformed},
		{name: "header JSON array", token: enc([]byte(`["ES256"]`)) + "." + parts[1] + "." + parts[2], want: token.ReasonMalformed},
		{name: "header JSON string", token: enc([]byte(`"ES256"`)) + "." + parts[1] + "." + parts[2], want: token.ReasonMalformed},
		{name: "header trailing data", token: enc([]byte(esHdr+"{}")) + "." + parts[1] + "." + parts[2], want: token.ReasonMalformed},
		{name: "header not UTF-8", token: enc([]byte("{\"alg\":\"ES256\",\"x\":\"\xff\"}")) + "." + parts[1] + "." + parts[2], want: token.ReasonMalformed},
		{name: "header without alg", token: signKey(t, es, `{"kid":"k-es"}`, esClaims), want: token.ReasonMalformed},
		{name: "header alg not a string", token: signKey(t, es, `{"alg":["ES256"],"kid":"k-es"}`, esClaims), want: token.ReasonMalformed},
		{name: "header kid not a string", token: signKey(t, es, `{"alg":"ES256","kid":7}`, esClaims), want: token.ReasonMalformed},
		{name: "header kid empty", token: signKey(t, es, `{"alg":"ES256","kid":""}`, esClaims), want: token.ReasonMalformed},
		{name: "header duplicate alg", token: signKey(t, es, `{"alg":"ES256","alg":"ES256","kid":"k-es"}`, esClaims), want: token.ReasonMalformed},
		{name: "header duplicate kid escaped", token: signKey(t, es, `{"alg":"ES256","kid":"k-es","\u006bid":"k-other"}`, esClaims), want: token.ReasonMalformed},
		{name: "header typ JOSE", token: signKey(t, es, hdr(jose.ES256, "k-es", "typ", "JOSE"), esClaims), want: token.ReasonMalformed},
		{name: "header typ not a string", token: signKey(t, es, hdr(jose.ES256, "k-es", "typ", 1), esClaims), want: token.ReasonMalformed},
		{name: "embedded jwk", token: sign(t, jose.ES256, f.evil.Priv, hdr(jose.ES256, "", "jwk", evilJWK), esClaims), want: token.ReasonMalformed},
		{name: "embedded jwk of the real key", token: signKey(t, es, hdr(jose.ES256, "k-es", "jwk", json.RawMessage(pubJWK)), esClaims), want: token.ReasonMalformed},
		{name: "jku", token: signKey(t, es, hdr(jose.ES256, "k-es", "jku", "https://evil.example/jwks.json"), esClaims), want: token.ReasonMalformed},
		{name: "x5u", token: signKey(t, es, hdr(jose.ES256, "k-es", "x5u", "https://evil.example/cert.pem"), esClaims), want: token.ReasonMalformed},
		{name: "x5c", token: signKey(t, es, hdr(jose.ES256, "k-es", "x5c", []string{"MIIB"}), esClaims), want: token.ReasonMalformed},
		{name: "unknown crit", token: signKey(t, es, hdr(jose.ES256, "k-es", "crit", []string{"urn:example:x"}, "urn:example:x", true), esClaims), want: token.ReasonMalformed},
		{name: "crit b64", token: signKey(t, es, hdr(jose.ES256, "k-es", "crit", []string{"b64"}, "b64", false), esClaims), want: token.ReasonMalformed},
		{name: "b64 without crit", token: signKey(t, es, hdr(jose.ES256, "k-es", "b64", true), esClaims), want: token.ReasonMalformed},
		{name: "nested JWT cty", token: signKey(t, es, hdr(jose.ES256, "k-es", "cty", "JWT"), esClaims), want: token.ReasonMalformed},
		{name: "nested JWT cty lower case", token: signKey(t, es, hdr(jose.ES256, "k-es", "cty", "application/jwt"), esClaims), want: token.ReasonMalformed},

		// MALFORMED: payload.
		{name: "payload not JSON", token: signKey(t, es, esHdr, "sub=admin"), want: token.ReasonMalformed},
		{name: "payload JSON array", token: signKey(t, es, esHdr, `[{"sub":"a"}]`), want: token.ReasonMalformed},
		{name: "payload null", token: signKey(t, es, esHdr, `null`), want: token.ReasonMalformed},
		{name: "payload not UTF-8", token: signKey(t, es, esHdr, "{\"sub\":\"\xc3\x28\",\"aid\":\"app-es\"}"), want: token.ReasonMalformed},
		{name: "duplicate claim", token: signKey(t, es, esHdr, `{"sub":"user-1","sub":"admin",`+esClaims[1:]), want: token.ReasonMalformed},
		{name: "duplicate claim escaped", token: signKey(t, es, esHdr, `{"\u0073ub":"admin",`+esClaims[1:]), want: token.ReasonMalformed},
		{name: "duplicate extra claim", token: signKey(t, es, esHdr, `{"role":"a","role":"admin",`+esClaims[1:]), want: token.ReasonMalformed},
		{name: "duplicate among many claims", token: signKey(t, es, esHdr, manyClaims(40, true)+esClaims[1:]), want: token.ReasonMalformed},
		{name: "exp as string", token: signKey(t, es, esHdr, claimsOf("app-es", set("exp", itoa(exp)))), want: token.ReasonMalformed},
		{name: "iat as bool", token: signKey(t, es, esHdr, claimsOf("app-es", set("iat", true))), want: token.ReasonMalformed},
		{name: "nbf null", token: signKey(t, es, esHdr, claimsOf("app-es", set("nbf", nil))), want: token.ReasonMalformed},
		{name: "sub a number", token: signKey(t, es, esHdr, claimsOf("app-es", set("sub", 42))), want: token.ReasonMalformed},
		{name: "aid an object", token: signKey(t, es, esHdr, claimsOf("app-es", set("aid", map[string]any{"id": "app-es"}))), want: token.ReasonMalformed},
		{name: "jti a number", token: signKey(t, es, esHdr, claimsOf("app-es", set("jti", 1))), want: token.ReasonMalformed},
		{name: "iss an array", token: signKey(t, es, esHdr, claimsOf("app-es", set("iss", []string{"x"}))), want: token.ReasonMalformed},
		{name: "aud a number", token: signKey(t, es, esHdr, claimsOf("app-es", set("aud", 1))), want: token.ReasonMalformed},
		{name: "aud array with a number", token: signKey(t, es, esHdr, claimsOf("app-es", set("aud", []any{"svc-a", 1}))), want: token.ReasonMalformed},
		{name: "aud array with null", token: signKey(t, es, esHdr, claimsOf("app-es", set("aud", []any{"svc-a", nil}))), want: token.ReasonMalformed},
		{name: "huge exp", token: signKey(t, es, esHdr, claimsOf("app-es", set("exp", json.Number("1e300")))), want: token.ReasonMalformed},
		{name: "exp beyond year 9999", token: signKey(t, es, esHdr, claimsOf("app-es", set("exp", int64(253402300800)))), want: token.ReasonMalformed},
		{name: "exp overflowing float64", token: signKey(t, es, esHdr, claimsOf("app-es", set("exp", json.Number("1e400")))), want: token.ReasonMalformed},
		{name: "exp 20 digits", token: signKey(t, es, esHdr, claimsOf("app-es", set("exp", json.Number("99999999999999999999")))), want: token.ReasonMalformed},
		{name: "negative iat", token: signKey(t, es, esHdr, claimsOf("app-es", set("iat", -1))), want: token.ReasonMalformed},
		{name: "exp before iat", token: signKey(t, es, esHdr, claimsOf("app-es", at("iat", t0.Add(20*time.Second)), at("exp", t0.Add(10*time.Second)), del("nbf"))), want: token.ReasonMalformed},

		// UNSUPPORTED_ALGORITHM.
		{name: "alg none", token: enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(esClaims)) + ".", want: token.ReasonUnsupportedAlgorithm},
		{name: "alg None", token: enc([]byte(`{"alg":"None"}`)) + "." + enc([]byte(esClaims)) + ".", want: token.ReasonUnsupportedAlgorithm},
		{name: "alg NONE with kid and signature", token: enc([]byte(`{"alg":"NONE","kid":"k-es"}`)) + "." + enc([]byte(esClaims)) + "." + parts[2], want: token.ReasonUnsupportedAlgorithm},
		{name: "HS256 with the public key PEM", token: hs256(hdr(jose.HS256, "k-es", "typ", "JWT"), esClaims, pubPEM), want: token.ReasonUnsupportedAlgorithm},
		{name: "HS256 with the public key PEM no kid", token: hs256(hdr(jose.HS256, ""), esClaims, pubPEM), want: token.ReasonUnsupportedAlgorithm},
		{name: "HS256 with the public key JWK", token: hs256(hdr(jose.HS256, "k-es"), esClaims, pubJWK), want: token.ReasonUnsupportedAlgorithm},
		{name: "HS512", token: hs256(hdr(jose.HS512, "k-es"), esClaims, pubDER), want: token.ReasonUnsupportedAlgorithm},
		{name: "alg lower case es256", token: signKey(t, es, `{"alg":"es256","kid":"k-es"}`, esClaims), want: token.ReasonUnsupportedAlgorithm},
		{name: "alg ES384 off the list", token: signKey(t, es, hdr(jose.ES384, "k-es"), esClaims), want: token.ReasonUnsupportedAlgorithm},
		{name: "alg RS384 off the list", token: signKey(t, rs, hdr(jose.RS384, "k-rs"), claimsOf("app-rs")), want: token.ReasonUnsupportedAlgorithm},
		{name: "EdDSA key with an ES256 header", token: sign(t, jose.EdDSA, ed.Priv, hdr(jose.ES256, "k-ed"), claimsOf("app-ed")), want: token.ReasonUnsupportedAlgorithm},
		{name: "RS256 key with a PS256 header", token: sign(t, jose.PS256, rs.Priv, hdr(jose.PS256, "k-rs"), claimsOf("app-rs")), want: token.ReasonUnsupportedAlgorithm},
		{name: "no kid and no key of the alg", token: sign(t, jose.EdDSA, ed.Priv, hdr(jose.EdDSA, ""), esClaims), want: token.ReasonUnsupportedAlgorithm},

		// UNKNOWN_KEY.
		{name: "unknown kid", token: sign(t, jose.ES256, f.evil.Priv, hdr(jose.ES256, "k-nope"), esClaims), want: token.ReasonUnknownKey},
		{name: "huge unknown kid", token: sign(t, jose.ES256, f.evil.Priv, hdr(jose.ES256, strings.Repeat("k", 3000)), claimsOf(strings.Repeat("é", 1000))), want: token.ReasonUnknownApp},
		{name: "huge unknown kid of a known app", token: sign(t, jose.ES256, f.evil.Priv, hdr(jose.ES256, strings.Repeat("é", 2000)), esClaims), want: token.ReasonUnknownKey},
		{name: "kid of another app", token: signKey(t, other, hdr(jose.ES256, "k-other"), esClaims), want: token.ReasonUnknownKey},
		{name: "key past its verification window", token: signKey(t, old, hdr(jose.ES256, "k-old"), claimsOf("app-old")), want: token.ReasonUnknownKey},
		{name: "no kid and the app has no key", token: signKey(t, es, hdr(jose.ES256, ""), claimsOf("app-empty")), want: token.ReasonUnknownKey},
		{name: "no kid and only expired keys", token: signKey(t, old, hdr(jose.ES256, ""), claimsOf("app-old")), want: token.ReasonUnknownKey},

		// BAD_SIGNATURE.
		{name: "signed by another key", token: sign(t, jose.ES256, f.evil.Priv, esHdr, esClaims), want: token.ReasonBadSignature},
		{name: "signed by another key no kid", token: sign(t, jose.ES256, f.evil.Priv, hdr(jose.ES256, ""), esClaims), want: token.ReasonBadSignature},
		{name: "tampered payload", token: parts[0] + "." + enc([]byte(claimsOf("app-es", set("sub", "admin")))) + "." + parts[2], want: token.ReasonBadSignature},
		{name: "tampered header", token: enc([]byte(hdr(jose.ES256, "k-es", "typ", "at+jwt"))) + "." + parts[1] + "." + parts[2], want: token.ReasonBadSignature},
		{name: "stripped signature", token: parts[0] + "." + parts[1] + ".", want: token.ReasonBadSignature},
		{name: "ECDSA all-zero signature", token: parts[0] + "." + parts[1] + "." + enc(make([]byte, 64)), want: token.ReasonBadSignature},
		{name: "ECDSA all-zero signature no kid", token: enc([]byte(hdr(jose.ES256, ""))) + "." + parts[1] + "." + enc(make([]byte, 64)), want: token.ReasonBadSignature},
		{name: "ECDSA DER signature", token: parts[0] + "." + parts[1] + "." + enc(append([]byte{0x30, 0x44, 0x02, 0x20}, make([]byte, 66)...)), want: token.ReasonBadSignature},
		{name: "EdDSA all-zero signature", token: enc([]byte(hdr(jose.EdDSA, "k-ed"))) + "." + enc([]byte(claimsOf("app-ed"))) + "." + enc(make([]byte, 64)), want: token.ReasonBadSignature},
		{name: "signature of another token", token: parts[0] + "." + enc([]byte(claimsOf("app-es", set("jti", "x")))) + "." + parts[2], want: token.ReasonBadSignature},

		// EXPIRED, NOT_YET_VALID and the leeway edges.
		{name: "expired", token: valid, now: exp.Add(time.Hour), want: token.ReasonExpired},
		{name: "exp exactly now-leeway", token: valid, now: exp.Add(lw), want: token.ReasonExpired},
		{name: "exp just inside the leeway", token: valid, now: exp.Add(lw - time.Nanosecond)},
		{name: "exp exactly now with zero leeway", token: valid, now: exp, leeway: ptr(time.Duration(0)), want: token.ReasonExpired},
		{name: "exp just after now with zero leeway", token: valid, now: exp.Add(-time.Nanosecond), leeway: ptr(time.Duration(0))},
		{name: "nbf in the future", token: signKey(t, es, esHdr, claimsOf("app-es", at("nbf", future))), want: token.ReasonNotYetValid},
		{name: "nbf = iat exactly now+leeway", token: signKey(t, es, esHdr, claimsOf("app-es", at("iat", t0.Add(lw)), at("nbf", t0.Add(lw))))},
		{name: "nbf = iat one second past now+leeway", token: signKey(t, es, esHdr, claimsOf("app-es", at("iat", t0.Add(lw+time.Second)), at("nbf", t0.Add(lw+time.Second)))), want: token.ReasonNotYetValid},
		{name: "nbf before iat within leeway", token: signKey(t, es, esHdr, claimsOf("app-es", at("iat", t0.Add(lw)), at("nbf", t0.Add(-time.Second))))},
		{name: "delayed nbf one second ahead, no leeway for it", token: signKey(t, es, esHdr, claimsOf("app-es", at("iat", t0), at("nbf", t0.Add(time.Second)))), want: token.ReasonNotYetValid},
		{name: "delayed nbf exactly now", token: signKey(t, es, esHdr, claimsOf("app-es", at("iat", t0.Add(-4*time.Second)), at("nbf", t0)))},
		{name: "iat in the future", token: signKey(t, es, esHdr, claimsOf("app-es", at("iat", future), del("nbf"))), want: token.ReasonNotYetValid},
		{name: "iat exactly now+leeway", token: signKey(t, es, esHdr, claimsOf("app-es", at("iat", t0.Add(lw)), del("nbf")))},
		{name: "iat one second past now+leeway", token: signKey(t, es, esHdr, claimsOf("app-es", at("iat", t0.Add(lw+time.Second)), del("nbf"))), want: token.ReasonNotYetValid},

		// LIFETIME_TOO_LONG.
		{name: "backend token of 30 days", token: backendToken(t, es, true, t0.Add(-time.Minute), t0.Add(30*24*time.Hour)), want: token.ReasonLifetimeTooLong},
		{name: "lifetime one second over the maximum", token: signKey(t, es, esHdr, claimsOf("app-es",
			at("iat", t0.Add(-time.Hour)), at("exp", t0.Add(23*time.Hour+time.Second)))), want: token.ReasonLifetimeTooLong},
		{name: "lifetime over an app's own maximum", token: signKey(t, ed, hdr(jose.EdDSA, "k-short"), claimsOf("app-short",
			at("exp", t0.Add(time.Hour)))), want: token.ReasonLifetimeTooLong},
		{name: "short lifetime accepted on validation", token: signKey(t, es, esHdr, claimsOf("app-es", at("exp", t0.Add(time.Minute))))},

		// MISSING_CLAIM.
		{name: "missing sub", token: signKey(t, es, esHdr, claimsOf("app-es", del("sub"))), want: token.ReasonMissingClaim},
		{name: "empty sub", token: signKey(t, es, esHdr, claimsOf("app-es", set("sub", ""))), want: token.ReasonMissingClaim},
		{name: "missing iat", token: signKey(t, es, esHdr, claimsOf("app-es", del("iat"))), want: token.ReasonMissingClaim},
		{name: "missing exp", token: signKey(t, es, esHdr, claimsOf("app-es", del("exp"))), want: token.ReasonMissingClaim},
		{name: "missing aid with kid", token: signKey(t, es, esHdr, claimsOf("app-es", del("aid"))), want: token.ReasonMissingClaim},
		{name: "missing aid with kid and expected app", token: signKey(t, es, esHdr, claimsOf("app-es", del("aid"))),
			expect: token.Expect{AppID: "app-es"}, want: token.ReasonMissingClaim},
		{name: "missing aid without kid", token: signKey(t, es, hdr(jose.ES256, ""), claimsOf("app-es", del("aid"))), want: token.ReasonMissingClaim},
		{name: "missing aid with kid, bad signature", token: sign(t, jose.ES256, f.evil.Priv, esHdr, claimsOf("app-es", del("aid"))), want: token.ReasonBadSignature},

		// AUDIENCE_MISMATCH.
		{name: "audience not in aud", token: valid, expect: token.Expect{Audience: "svc-z"}, want: token.ReasonAudienceMismatch},
		{name: "audience asked, no aud", token: signKey(t, es, esHdr, claimsOf("app-es", del("aud"))), expect: token.Expect{Audience: "svc-a"}, want: token.ReasonAudienceMismatch},
		{name: "audience is case sensitive", token: valid, expect: token.Expect{Audience: "SVC-A"}, want: token.ReasonAudienceMismatch},

		// UNKNOWN_APP, APP_MISMATCH, APP_DISABLED, REVOKED.
		{name: "unknown app", token: signKey(t, es, esHdr, claimsOf("app-nope")), want: token.ReasonUnknownApp},
		{name: "app mismatch", token: valid, expect: token.Expect{AppID: "app-ed"}, want: token.ReasonAppMismatch},
		{name: "app disabled", token: signKey(t, f.keys["k-off"], hdr(jose.ES256, "k-off"), claimsOf("app-off")), want: token.ReasonAppDisabled},
		{name: "revoked", token: signKey(t, es, esHdr, claimsOf("app-es", set("jti", "revoked-jti"))), want: token.ReasonRevoked},
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := validateCases(t, f)

	seen := map[token.Reason]bool{}
	for _, tc := range cases {
		seen[tc.want] = true
	}
	for r := token.ReasonMalformed; r <= token.ReasonRevoked; r++ {
		if !seen[r] {
			t.Errorf("no case reaches %s", r)
		}
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			opts := []token.ValidatorOption{token.WithClock(clockAt(now)), token.WithDenylist(denylist{"revoked-jti": true})}
			if tc.leeway != nil {
				opts = append(opts, token.WithLeeway(*tc.leeway))
			}
			res, err := token.NewValidator(f.src, opts...).Validate(tc.token, tc.expect)
			if err != nil {
				t.Fatalf("Validate error %v; want a result", err)
			}
			if res.Reason != tc.want {
				t.Fatalf("Validate = %s; want %s", describe(res), tc.want)
			}
			if tc.want != token.ReasonNone && (res.Detail == "" || len(res.Detail) > 300) {
				t.Errorf("refusal %s with Detail %q", res.Reason, res.Detail)
			}
			if res.Valid() != (tc.want == token.ReasonNone) {
				t.Errorf("Valid() = %v with reason %s", res.Valid(), res.Reason)
			}
			// Claims come only from verified tokens.
			if res.Claims.Subject != "" && res.KeyID == "" {
				t.Errorf("claims filled without a verifying key: %+v", res.Claims)
			}
		})
	}
}

func TestValidateRequestErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	valid := signKey(t, f.keys["k-es"], hdr(jose.ES256, "k-es"), claimsOf("app-es"))
	tests := []struct {
		name  string
		token string
		opts  []token.ValidatorOption
		want  error
	}{
		{name: "empty", token: "", want: token.ErrTokenEmpty},
		{name: "oversize", token: strings.Repeat("a", token.DefaultMaxTokenSize+1), want: token.ErrTokenTooLarge},
		{name: "oversize valid token", token: valid, opts: []token.ValidatorOption{token.WithMaxTokenSize(len(valid) - 1)}, want: token.ErrTokenTooLarge},
		{name: "exactly the limit", token: valid, opts: []token.ValidatorOption{token.WithMaxTokenSize(len(valid))}},
		{name: "oversize and not UTF-8", token: strings.Repeat("\xff", token.DefaultMaxTokenSize+1), want: token.ErrTokenTooLarge},
		{name: "not UTF-8", token: "eyJ\xff.e30.", want: token.ErrTokenNotUTF8},
		{name: "not UTF-8 in a valid token", token: valid + "\xc0", want: token.ErrTokenNotUTF8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := append([]token.ValidatorOption{token.WithClock(clockAt(t0))}, tc.opts...)
			res, err := token.NewValidator(f.src, opts...).Validate(tc.token, token.Expect{})
			if tc.want == nil {
				if err != nil || !res.Valid() {
					t.Fatalf("Validate = %s, %v; want valid", describe(res), err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate error = %v; want %v", err, tc.want)
			}
			if res.Valid() {
				t.Error("Result is valid alongside a request error")
			}
		})
	}
}

// TestValidateClaimsOnRefusal: once the signature verified, a later
// refusal still reports the claims and the key.
func TestValidateClaimsOnRefusal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	raw := signKey(t, f.keys["k-es"], hdr(jose.ES256, "k-es"), claimsOf("app-es", set("role", "admin")))
	res, err := token.NewValidator(f.src, token.WithClock(clockAt(t0.Add(48*time.Hour)))).Validate(raw, token.Expect{})
	if err != nil || res.Reason != token.ReasonExpired {
		t.Fatalf("Validate = %s, %v; want EXPIRED", describe(res), err)
	}
	if res.Claims.Subject != "user-1" || res.KeyID != "k-es" || res.Claims.Extra["role"] != "admin" {
		t.Errorf("result = %+v", res)
	}
}

func TestValidateExtraClaims(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	raw := signKey(t, f.keys["k-es"], hdr(jose.ES256, "k-es"),
		claimsOf("app-es", set("n", 3), set("s", "x"), set("nested", map[string]any{"a": []any{1, "b", nil, true}})))
	res, err := token.NewValidator(f.src, token.WithClock(clockAt(t0))).Validate(raw, token.Expect{})
	if err != nil || !res.Valid() {
		t.Fatalf("Validate = %s, %v", describe(res), err)
	}
	want := map[string]any{"n": 3.0, "s": "x", "nested": map[string]any{"a": []any{1.0, "b", nil, true}}}
	if !reflect.DeepEqual(res.Claims.Extra, want) {
		t.Errorf("Extra = %#v, want %#v", res.Claims.Extra, want)
	}
}

// TestValidateKeySourceDefense: a key source handing out a key whose type
// does not fit its algorithm (an HMAC secret above all) never verifies.
func TestValidateKeySourceDefense(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	src := f.src.clone()
	secret := []byte("0123456789abcdef0123456789abcdef")
	src.keys = append(src.keys,
		token.VerifyKey{ID: "k-hmac", AppID: "app-es", Algorithm: jose.ES256, Public: secret},
		token.VerifyKey{ID: "k-mixed", AppID: "app-es", Algorithm: jose.ES256, Public: f.keys["k-ed"].Priv.Public()},
	)
	v := token.NewValidator(src, token.WithClock(clockAt(t0)))
	for _, kid := range []string{"k-hmac", "k-mixed"} {
		raw := hs256(hdr(jose.ES256, kid), claimsOf("app-es"), secret)
		res, err := v.Validate(raw, token.Expect{})
		if err != nil || res.Reason != token.ReasonUnknownKey {
			t.Errorf("%s: Validate = %s, %v; want UNKNOWN_KEY", kid, describe(res), err)
		}
	}
}

// TestValidateIgnoresAlgorithmsVariable: widening the exported Algorithms variable
// does not make HMAC acceptable.
func TestValidateIgnoresAlgorithmsVariable(t *testing.T) {
	f := newFixture(t)
	saved := token.Algorithms
	t.Cleanup(func() { token.Algorithms = saved })
	token.Algorithms = append(token.Algorithms, jose.HS256, "none")
	res, _ := token.NewValidator(f.src, token.WithClock(clockAt(t0))).
		Validate(hs256(hdr(jose.HS256, "k-es"), claimsOf("app-es"), []byte("k")), token.Expect{})
	if res.Reason != token.ReasonUnsupportedAlgorithm {
		t.Errorf("Validate = %s; want UNSUPPORTED_ALGORITHM", describe(res))
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	valid := signKey(t, f.keys["k-es"], hdr(jose.ES256, "k-es", "typ", "JWT"), claimsOf("app-es"))
	h, c, err := token.Inspect(valid)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if h["alg"] != "ES256" || h["kid"] != "k-es" || c["sub"] != "user-1" || c["exp"] != json.Number(itoa(t0.Add(59*time.Minute))) {
		t.Errorf("Inspect = %v, %v", h, c)
	}
	// Inspect shows what Validate refuses: it does not verify.
	none := enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"sub":"admin"}`)) + "."
	if h, c, err := token.Inspect(none); err != nil || h["alg"] != "none" || c["sub"] != "admin" {
		t.Errorf("Inspect(alg none) = %v, %v, %v", h, c, err)
	}
	for name, tc := range map[string]struct {
		raw  string
		want error
	}{
		"empty":           {"", token.ErrTokenEmpty},
		"not UTF-8":       {"\xff.a.b", token.ErrTokenNotUTF8},
		"garbage":         {"hello", token.ErrMalformed},
		"JWE":             {"a.b.c.d.e", token.ErrMalformed},
		"payload array":   {enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`[1]`)) + ".", token.ErrMalformed},
		"duplicate claim": {enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"a":1,"a":2}`)) + ".", token.ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := token.Inspect(tc.raw); !errors.Is(err, tc.want) {
				t.Errorf("Inspect error = %v; want %v", err, tc.want)
			}
		})
	}
}

func TestReasonString(t *testing.T) {
	t.Parallel()
	if got := token.ReasonLifetimeTooLong.String(); got != "LIFETIME_TOO_LONG" {
		t.Errorf("String = %q", got)
	}
	if got := token.Reason(99).String(); got != "UNKNOWN" {
		t.Errorf("String = %q", got)
	}
}

func itoa(t time.Time) string { return jsonNumber(t.Unix()) }

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// flipTail changes the unused low bits of the last base64url character of
// seg (a 64-byte ECDSA signature leaves four): same bytes, other spelling.
func flipTail(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last^1])
}

// manyClaims is the start of a JSON object with n extra members, the last
// one a duplicate of the first when dup is set; it ends with a comma.
func manyClaims(n int, dup bool) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		b.WriteString(`"x` + jsonNumber(int64(i)) + `":0,`)
	}
	if dup {
		b.WriteString(`"x0":1,`)
	}
	return b.String()
}
