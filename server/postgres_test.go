package server_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/servertest"
	"github.com/tokend/tokend/server/storage/postgres/pgtest"
)

// testKEK is the KEK every replica of a test shares.
var testKEK = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// startOnPostgres starts a server on the PostgreSQL database of dsn. The
// key maintainer runs every 50ms, so that a replica picks up the apps and
// keys another one created quickly.
func startOnPostgres(t *testing.T, dsn string) *servertest.Harness {
	t.Helper()
	return servertest.Start(t, servertest.WithConfig(func(c *server.Config) {
		c.Store = dsn
		c.KEK = testKEK
		c.KeyCheckInterval = 50 * time.Millisecond
	}))
}

// eventually calls f until it returns nil or 10 seconds have passed, and
// returns its last error: for what one replica learns of another's
// changes (by notification, within milliseconds; replication_test.go
// holds them to a bound), and for a store coming back.
func eventually(f func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPostgresRestartKeepsData(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	h := startOnPostgres(t, dsn)
	created := createApp(t, h.Admin, "ES256")
	appID := created.GetApp().GetAppId()
	issued, err := h.Admin.IssueToken(t.Context(), &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s"})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	v, err := h.Admin.ValidateToken(t.Context(), &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken()})
	if err != nil || !v.GetValid() {
		t.Fatalf("ValidateToken: %v, %v", v, err)
	}
	h.Stop()

	h2 := startOnPostgres(t, dsn)
	ctx := t.Context()
	got, err := h2.Admin.GetApp(ctx, &tokendv1.GetAppRequest{AppId: appID})
	if err != nil || got.GetApp().GetName() != "shop" {
		t.Fatalf("GetApp after restart: %v, %v", got, err)
	}
	v, err = h2.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken()})
	if err != nil || !v.GetValid() {
		t.Fatalf("token issued before restart: %v, %v", v, err)
	}
	again, err := h2.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s"})
	if err != nil || again.GetKeyId() != created.GetKey().GetKeyId() {
		t.Fatalf("IssueToken after restart: %v, %v (want the same key)", again, err)
	}
}

// TestPostgresTwoReplicas runs two servers on one database, as two
// replicas behind a load balancer.
func TestPostgresTwoReplicas(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	a, b := startOnPostgres(t, dsn), startOnPostgres(t, dsn)
	ctx := t.Context()
	appID := createApp(t, a.Admin, "EdDSA").GetApp().GetAppId()

	issued, err := a.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "alice", IssueRefreshToken: true})
	if err != nil {
		t.Fatalf("IssueToken on A: %v", err)
	}
	t.Run("token of A validates on B", func(t *testing.T) {
		err := eventually(func() error {
			v, err := b.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken()})
			switch {
			case err != nil:
				return err
			case !v.GetValid():
				return errors.New(v.GetReason().String() + ": " + v.GetDetail())
			}
			return nil
		})
		if err != nil {
			t.Fatalf("ValidateToken on B of a token issued on A: %v", err)
		}
	})
	t.Run("token of B validates on A", func(t *testing.T) {
		onB, err := b.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "bob"})
		if err != nil {
			t.Fatalf("IssueToken on B: %v", err)
		}
		v, err := a.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: onB.GetAccessToken()})
		if err != nil || !v.GetValid() {
			t.Fatalf("ValidateToken on A of a token issued on B: %v, %v", v, err)
		}
	})
	t.Run("refresh rotated on B, replayed on A, is reuse", func(t *testing.T) {
		rotated, err := b.Admin.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: issued.GetRefreshToken()})
		if err != nil {
			t.Fatalf("RefreshToken on B: %v", err)
		}
		_, err = a.Admin.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: issued.GetRefreshToken()})
		if got := servertest.ErrorReason(err); got != "REFRESH_TOKEN_REUSED" {
			t.Fatalf("replay on A of a refresh token rotated on B: %v (reason %q), want REFRESH_TOKEN_REUSED", err, got)
		}
		// Reuse revoked the family: the rotated token is dead on B too.
		_, err = b.Admin.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: rotated.GetRefreshToken()})
		if got := servertest.ErrorReason(err); got != "REFRESH_TOKEN_REVOKED" && got != "REFRESH_TOKEN_REUSED" {
			t.Fatalf("refresh on B after the family was revoked on A: %v (reason %q), want it refused", err, got)
		}
	})
	t.Run("app created on B is known to A", func(t *testing.T) {
		other := createApp(t, b.Admin, "").GetApp().GetAppId()
		err := eventually(func() error {
			_, err := a.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: other, Subject: "s"})
			return err
		})
		if err != nil {
			t.Fatalf("IssueToken on A for an app created on B: %v", err)
		}
	})
}

// TestPostgresStoreDown cuts the connections to PostgreSQL under a
// running server: writes answer UNAVAILABLE (STORE_UNAVAILABLE), validation
// keeps answering from memory, and the server reconnects by itself, its
// change feed too: a revocation another replica made meanwhile (whose
// notification it missed) reaches it by the resync after reconnecting.
func TestPostgresStoreDown(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	p := pgtest.StartProxy(t, dsn)
	h := startOnPostgres(t, p.DSN())
	other := startReplica(t, dsn, time.Hour) // not behind the proxy
	ctx := t.Context()
	appID := createApp(t, h.Admin, "").GetApp().GetAppId()
	issued, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s"})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	within(t, time.Second, "the other replica validates the token", func() error { return validity(other, issued.GetAccessToken()) })

	feedConnected := func(want float64) func() error {
		return func() error {
			mfs, _ := scrape(t, h)
			if got, ok := sample(mfs, "tokend_change_feed_connected"); !ok || got != want {
				return fmt.Errorf("tokend_change_feed_connected = %v (present: %v), want %v", got, ok, want)
			}
			return nil
		}
	}
	within(t, time.Second, "the change feed connected", feedConnected(1))

	p.Cut()
	within(t, time.Second, "the change feed lost", feedConnected(0))
	if _, err := other.Admin.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appID, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: issued.GetTokenId()}}); err != nil {
		t.Fatalf("RevokeToken on the other replica: %v", err)
	}
	_, err = h.Admin.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "while down"})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != codes.Unavailable || ce.Reason != "STORE_UNAVAILABLE" {
		t.Errorf("CreateApp with the store down: %v, want UNAVAILABLE STORE_UNAVAILABLE", err)
	}
	if !errors.Is(err, client.ErrStoreUnavailable) {
		t.Errorf("CreateApp with the store down: %v, want errors.Is client.ErrStoreUnavailable", err)
	}
	v, err := h.Admin.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken()})
	if err != nil || !v.GetValid() {
		t.Errorf("ValidateToken with the store down: %v, %v; want valid, from memory (the revocation is not heard)", v, err)
	}
	if strings.Contains(h.Logs.String(), "postgres://") {
		t.Error("the logs show the store DSN")
	}

	p.Restore()
	err = eventually(func() error {
		_, err := h.Admin.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "after"})
		return err
	})
	if err != nil {
		t.Fatalf("CreateApp after the store came back: %v", err)
	}
	within(t, 5*time.Second, "the revocation made while the store was unreachable",
		refusedFor(h, issued.GetAccessToken(), tokendv1.InvalidReason_INVALID_REASON_REVOKED))
	within(t, time.Second, "the change feed back", feedConnected(1))
	for _, msg := range []string{"change feed lost", "change feed reconnected"} {
		if !strings.Contains(h.Logs.String(), msg) {
			t.Errorf("the logs do not say %q", msg)
		}
	}
}

func TestPostgresNeedsSharedKEK(t *testing.T) {
	t.Parallel()
	cfg := server.DefaultConfig()
	cfg.GRPCListen, cfg.HTTPListen = "127.0.0.1:0", ""
	cfg.Store = "postgres://tokend:secret-password@127.0.0.1:1/tokend"
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "config: kek:") || !strings.Contains(err.Error(), "TOKEND_KEK") {
		t.Errorf("Validate of a PostgreSQL store without KEK = %v, want a config: kek error", err)
	}
	if err != nil && strings.Contains(err.Error(), "secret-password") {
		t.Errorf("Validate's error shows the password: %v", err)
	}
	cfg.KEK = testKEK
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate of a PostgreSQL store with a KEK: %v", err)
	}
}
