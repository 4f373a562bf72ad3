package extauthz_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/extauthz"
	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/token"
)

const benchPolicy = `
routes:
  - path_prefix: /orders
    audience: orders
    claims: [sub, role]
    strip_token: true
`

// benchFixture is an in-memory key registry with one app and key of alg,
// the validator over it and a token it issued.
func benchFixture(b *testing.B, alg string) (*token.Validator, string) {
	b.Helper()
	now := time.Now()
	clk := func() time.Time { return now }
	kek, err := keys.NewKEK(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	a, err := keys.ParseAlgorithm(alg)
	if err != nil {
		b.Fatal(err)
	}
	priv, err := keys.Generate(a)
	if err != nil {
		b.Fatal(err)
	}
	const appID, kid = "app_bench", "k_bench"
	jwk, err := keys.PublicJWK(kid, a, priv.Public())
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := kek.Seal(appID, kid, priv)
	if err != nil {
		b.Fatal(err)
	}
	reg := keys.NewRegistry(kek)
	reg.PutApp(storage.App{ID: appID, Enabled: true})
	if err := reg.PutKeys(appID, []storage.Key{{
		ID: kid, AppID: appID, Algorithm: alg, PublicJWK: jwk, SealedPrivateKey: sealed,
		State: storage.KeyActive, CreatedAt: now.Add(-time.Minute), ActivatesAt: now.Add(-time.Minute),
	}}); err != nil {
		b.Fatal(err)
	}
	issued, err := token.NewIssuer(reg, "tokend", token.WithIssuerClock(clk)).Issue(token.IssueRequest{
		AppID: appID, Subject: "user-42", Audience: []string{"orders"}, Extra: map[string]any{"role": "buyer"},
	})
	if err != nil {
		b.Fatal(err)
	}
	return token.NewValidator(reg, token.WithClock(clk)), issued.Token
}

// BenchmarkCheck compares, in process, ValidateToken's validation with a
// whole Check on the same validator: route match, validation, policy and
// the upstream headers.
func BenchmarkCheck(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA"} {
		v, tok := benchFixture(b, alg)
		b.Run("Validate/"+alg, func(b *testing.B) {
			want := token.Expect{Audience: "orders"}
			b.ReportAllocs()
			for b.Loop() {
				if res, _ := v.Validate(tok, want); !res.Valid() {
					b.Fatal(res.Detail)
				}
			}
		})
		policy, err := extauthz.ParsePolicy([]byte(benchPolicy))
		if err != nil {
			b.Fatal(err)
		}
		s, err := extauthz.NewServer(v, policy, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		ctx := auth.WithCaller(context.Background(), auth.Caller{Name: "envoy", Roles: []string{auth.RoleValidator}})
		for _, tc := range []struct {
			name string
			req  httpReq
			want codes.Code
		}{
			{"Check/" + alg, httpReq{host: "api.example.com", path: "/orders/42", headers: bearer(tok)}, codes.OK},
			{"Check/" + alg + "/default-route", httpReq{host: "api.example.com", path: "/home", headers: bearer(tok)}, codes.OK},
			{"Check/" + alg + "/denied-bad-signature", httpReq{host: "api.example.com", path: "/orders/42", headers: bearer(tok[:len(tok)-2] + "AA")}, codes.Unauthenticated},
		} {
			req := tc.req.checkRequest()
			b.Run(tc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					resp, err := s.Check(ctx, req)
					if err != nil || codes.Code(resp.GetStatus().GetCode()) != tc.want {
						b.Fatalf("Check = %v, %v", resp, err)
					}
				}
			})
		}
	}
	b.Run("Check/missing-token", func(b *testing.B) {
		s, _ := extauthz.NewServer(nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		ctx := auth.WithCaller(context.Background(), auth.Caller{Name: "envoy", Roles: []string{auth.RoleValidator}})
		req := httpReq{host: "api.example.com", path: "/"}.checkRequest()
		b.ReportAllocs()
		for b.Loop() {
			if resp, _ := s.Check(ctx, req); codes.Code(resp.GetStatus().GetCode()) != codes.Unauthenticated {
				b.Fatal(resp)
			}
		}
	})
}

// BenchmarkGRPC compares ValidateToken and Check end to end: a real server
// on loopback, the interceptor chain, the generated clients.
func BenchmarkGRPC(b *testing.B) {
	e := start(b, func(a, _ string) string { return benchPolicy })
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+e.validatorKey)
	appA := e.appA.GetApp().GetAppId()
	issued, err := e.h.Admin.IssueToken(context.Background(), &tokendv1.IssueTokenRequest{AppId: appA, Subject: "user-42", Audience: []string{"orders"}})
	if err != nil {
		b.Fatal(err)
	}
	tok := issued.GetAccessToken()
	validator := e.h.Client(b, e.validatorKey)
	b.Run("ValidateToken", func(b *testing.B) {
		req := &tokendv1.ValidateTokenRequest{Token: tok, Audience: "orders"}
		b.ReportAllocs()
		for b.Loop() {
			if resp, err := validator.ValidateToken(context.Background(), req); err != nil || !resp.GetValid() {
				b.Fatal(resp, err)
			}
		}
	})
	b.Run("Check", func(b *testing.B) {
		req := httpReq{host: "api.example.com", path: "/orders/42", headers: bearer(tok)}.checkRequest()
		b.ReportAllocs()
		for b.Loop() {
			if resp, err := e.authz.Check(ctx, req); err != nil || resp.GetOkResponse() == nil {
				b.Fatal(resp, err)
			}
		}
	})
	b.Run("Check/parallel", func(b *testing.B) {
		req := httpReq{host: "api.example.com", path: "/orders/42", headers: bearer(tok)}.checkRequest()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if resp, err := e.authz.Check(ctx, req); err != nil || resp.GetOkResponse() == nil {
					b.Error(resp, err)
					return
				}
			}
		})
	})
	b.Run("ValidateToken/parallel", func(b *testing.B) {
		req := &tokendv1.ValidateTokenRequest{Token: tok, Audience: "orders"}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if resp, err := validator.ValidateToken(context.Background(), req); err != nil || !resp.GetValid() {
					b.Error(resp, err)
					return
				}
			}
		})
	})
}
