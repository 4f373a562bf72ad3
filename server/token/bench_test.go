package token_test

import (
	"testing"

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
