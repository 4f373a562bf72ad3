package token_test

import (
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/token"
)

func benchmarkValidate(b *testing.B, app string) {
	f := newFixture(b)
	got, err := token.NewIssuer(f.src, "tokend-test", token.WithIssuerClock(clockAt(t0))).
		Issue(token.IssueRequest{AppID: app, Subject: "user-1", Audience: []string{"svc-a"}})
	if err != nil {
		b.Fatal(err)
	}
	v := token.NewValidator(f.src, token.WithClock(clockAt(t0)))
	want := token.Expect{Audience: "svc-a", AppID: app}
	if res, err := v.Validate(got.Token, want); err != nil || !res.Valid() {
		b.Fatalf("Validate = %s, %v", describe(res), err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := v.Validate(got.Token, want); !res.Valid() {
			b.Fatal(describe(res))
		}
	}
}

func BenchmarkValidateES256(b *testing.B) { benchmarkValidate(b, "app-es") }
func BenchmarkValidateEdDSA(b *testing.B) { benchmarkValidate(b, "app-ed") }
func BenchmarkValidateRS256(b *testing.B) { benchmarkValidate(b, "app-rs") }

// BenchmarkValidateMalformed is the cost of refusing garbage.
func BenchmarkValidateMalformed(b *testing.B) {
	f := newFixture(b)
	v := token.NewValidator(f.src, token.WithClock(clockAt(t0)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = v.Validate("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", token.Expect{})
	}
}

func benchmarkIssue(b *testing.B, app string) {
	f := newFixture(b)
	iss := token.NewIssuer(f.src, "tokend-test", token.WithIssuerClock(clockAt(t0)))
	req := token.IssueRequest{AppID: app, Subject: "user-1", Audience: []string{"svc-a"}, Extra: map[string]any{"role": "reader"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Issue(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssueES256(b *testing.B) { benchmarkIssue(b, "app-es") }
func BenchmarkIssueEdDSA(b *testing.B) { benchmarkIssue(b, "app-ed") }

// BenchmarkValidateCachedES256 is a token seen again with the cache on
// (WithCache): no parsing, no signature check.
func BenchmarkValidateCachedES256(b *testing.B) {
	f := newFixture(b)
	got, err := token.NewIssuer(f.src, "tokend-test", token.WithIssuerClock(clockAt(t0))).
		Issue(token.IssueRequest{AppID: "app-es", Subject: "user-1", Audience: []string{"svc-a"}})
	if err != nil {
		b.Fatal(err)
	}
	v := token.NewValidator(f.src, token.WithClock(clockAt(t0)), token.WithCache(1024))
	want := token.Expect{Audience: "svc-a", AppID: "app-es"}
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := v.Validate(got.Token, want); !res.Valid() {
			b.Fatal(describe(res))
		}
	}
}

// BenchmarkValidateBadSignature is the cost of refusing a well-formed
// ES256 token whose signature does not verify.
func BenchmarkValidateBadSignature(b *testing.B) {
	f := newFixture(b)
	raw := signKey(b, f.keys["k-es"], hdr(jose.ES256, "k-es"), claimsOf("app-es"))
	raw = raw[:len(raw)-2] + "AA"
	v := token.NewValidator(f.src, token.WithClock(clockAt(t0)))
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := v.Validate(raw, token.Expect{}); res.Reason != token.ReasonBadSignature {
			b.Fatal(describe(res))
		}
	}
}

// BenchmarkValidateUnknownKid is the cost of refusing a token of a key
// nobody knows (no reload, no signature check).
func BenchmarkValidateUnknownKid(b *testing.B) {
	f := newFixture(b)
	raw := signKey(b, f.keys["k-es"], hdr(jose.ES256, "k-nobody"), claimsOf("app-es"))
	v := token.NewValidator(f.src, token.WithClock(clockAt(t0)))
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := v.Validate(raw, token.Expect{}); res.Reason != token.ReasonUnknownKey {
			b.Fatal(describe(res))
		}
	}
}
