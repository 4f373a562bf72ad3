package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/oauth"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server"
)

// exampleKey is the admin API key of the examples' tokend.
const exampleKey = "tkd_example-admin-key-0123456789abcdef"

// startTokend runs a real tokend on 127.0.0.1 with a throwaway data dir,
// as `tokend serve` would, and creates an app. The examples talk to it.
func startTokend() (addr, appID string, stop func()) {
	dir, err := os.MkdirTemp("", "tokend-example-")
	if err != nil {
		log.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.GRPCListen, cfg.HTTPListen, cfg.DataDir, cfg.AdminKey = "127.0.0.1:0", "", dir, exampleKey
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(done) }()
	c, err := client.New(srv.GRPCAddr(), client.WithAPIKey(exampleKey))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	app, err := c.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "shop"})
	if err != nil {
		log.Fatal(err)
	}
	return srv.GRPCAddr(), app.GetApp().GetAppId(), func() { cancel(); <-done; _ = os.RemoveAll(dir) }
}

// Issue a token and validate it through tokend; errors match sentinels.
func Example() {
	addr, appID, stop := startTokend()
	defer stop()
	ctx := context.Background()

	c, err := client.New(addr, client.WithAPIKey(exampleKey)) // over TLS: client.WithTLS(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	issued, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{
		AppId: appID, Subject: "alice", Ttl: durationpb.New(15 * time.Minute), Audience: []string{"orders"},
	})
	if err != nil {
		log.Fatal(err)
	}
	v, err := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken(), Audience: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("valid:", v.GetValid(), "subject:", v.GetClaims().GetSubject())

	_, err = c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: "app_nope", Subject: "alice"})
	fmt.Println("app not found:", errors.Is(err, client.ErrAppNotFound))
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Reason)
	}
	// Output:
	// valid: true subject: alice
	// app not found: true
	// NotFound APP_NOT_FOUND
}

// A token that fails validation is an answer; InvalidTokenError makes it an
// error that errors.Is matches with the reason's sentinel.
func ExampleInvalidTokenError() {
	addr, appID, stop := startTokend()
	defer stop()
	ctx := context.Background()
	c, err := client.New(addr, client.WithAPIKey(exampleKey))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	issued, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	tampered := issued.GetAccessToken()[:len(issued.GetAccessToken())-4] + "AAAA"

	v, err := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: tampered})
	if err != nil {
		log.Fatal(err) // only for a bad request, credentials, or tokend unreachable
	}
	err = client.InvalidTokenError(v)
	fmt.Println("valid:", v.GetValid())
	fmt.Println("bad signature:", errors.Is(err, client.ErrBadSignature))
	fmt.Println("expired:", errors.Is(err, client.ErrExpired))
	// Output:
	// valid: false
	// bad signature: true
	// expired: false
}

// A TokenSource caches an app token and renews it before it expires; as
// gRPC per-RPC credentials it authenticates every call to another service.
func ExampleClient_TokenSource() {
	addr, appID, stop := startTokend()
	defer stop()
	c, err := client.New(addr, client.WithAPIKey(exampleKey))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ts := c.TokenSource(&tokendv1.IssueTokenRequest{AppId: appID, Subject: "billing-service", Ttl: durationpb.New(time.Hour)})
	tok, err := ts.Token() // cached until about 80% of its lifetime
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.TokenType, strings.Count(tok.AccessToken, "."))

	// Every call of conn carries "authorization: Bearer <token>", renewed
	// as needed (oauth credentials require TLS).
	conn, err := grpc.NewClient("orders.internal:443",
		grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: ts}),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	// Output:
	// Bearer 2
}

// A local Validator judges tokens in-process with the server's rules, kept
// current by WatchKeys: no round trip per token, and a revocation is seen
// within moments.
func ExampleNewLocalValidator() {
	addr, appID, stop := startTokend()
	defer stop()
	ctx := context.Background()
	c, err := client.New(addr, client.WithAPIKey(exampleKey)) // a "validator" caller is enough
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	v := client.NewLocalValidator(c, client.WithValidatorApp(appID))
	defer v.Close()

	issued, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "alice", Audience: []string{"orders"}})
	if err != nil {
		log.Fatal(err)
	}
	res, err := v.Validate(ctx, issued.GetAccessToken(), client.Expect{Audience: "orders"})
	if err != nil {
		log.Fatal(err) // an empty or oversized token, or no key set yet
	}
	fmt.Println("valid:", res.Valid(), "subject:", res.Claims.Subject)

	if _, err := c.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appID, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: issued.GetTokenId()}}); err != nil {
		log.Fatal(err)
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if res, _ = v.Validate(ctx, issued.GetAccessToken(), client.Expect{}); !res.Valid() {
			break
		}
	}
	fmt.Println("reason:", res.Reason, "revoked:", errors.Is(client.ResultError(res), client.ErrRevoked))
	// Output:
	// valid: true subject: alice
	// reason: REVOKED revoked: true
}

// A remote Validator asks tokend for every token, with the same answers as
// a local one.
func ExampleNewRemoteValidator() {
	addr, appID, stop := startTokend()
	defer stop()
	c, err := client.New(addr, client.WithAPIKey(exampleKey))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	v := client.NewRemoteValidator(c)
	res, err := v.Validate(context.Background(), "not-a-token", client.Expect{AppID: appID})
	fmt.Println(res.Valid(), res.Reason, err)
	_, err = v.Validate(context.Background(), "", client.Expect{})
	fmt.Println(errors.Is(err, client.ErrTokenEmpty))
	// Output:
	// false MALFORMED <nil>
	// true
}
