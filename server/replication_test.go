package server_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/durationpb"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/servertest"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/faulty"
	"github.com/tokend/tokend/server/storage/postgres/pgtest"
)

// startReplica starts a server on the PostgreSQL database of dsn that
// learns of other replicas' changes by notification only: the key
// maintainer and the caller reload poll rarely or never, and the full
// resync runs every resync.
func startReplica(t *testing.T, dsn string, resync time.Duration) *servertest.Harness {
	t.Helper()
	return servertest.Start(t, servertest.WithConfig(func(c *server.Config) {
		c.Store = dsn
		c.KEK = testKEK
		c.KeyCheckInterval = time.Hour
		c.CallerReloadInterval = 0
		c.ResyncInterval = resync
	}))
}

// within calls f every 2ms until it returns nil, and fails the test when
// that takes longer than d.
func within(t *testing.T, d time.Duration, what string, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := f()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// validity returns nil when h says token is valid, else an error naming
// the reason.
func validity(h *servertest.Harness, token string) error {
	v, err := h.Admin.ValidateToken(context.Background(), &tokendv1.ValidateTokenRequest{Token: token})
	switch {
	case err != nil:
		return err
	case !v.GetValid():
		return fmt.Errorf("invalid: %s", v.GetReason())
	}
	return nil
}

// refusedFor returns a check that h refuses token for reason.
func refusedFor(h *servertest.Harness, token string, reason tokendv1.InvalidReason) func() error {
	return func() error {
		v, err := h.Admin.ValidateToken(context.Background(), &tokendv1.ValidateTokenRequest{Token: token})
		switch {
		case err != nil:
			return err
		case v.GetReason() != reason:
			return fmt.Errorf("valid=%v reason %s, want %s", v.GetValid(), v.GetReason(), reason)
		}
		return nil
	}
}

// execSQL runs statements on the database of dsn.
func execSQL(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, s := range stmts {
		if _, err := pool.Exec(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestReplicationResyncsLostChanges makes changes whose notifications are
// lost (the triggers are disabled): the periodic resync brings them to the
// other replica all the same.
func TestReplicationResyncsLostChanges(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	a, b := startReplica(t, dsn, time.Hour), startReplica(t, dsn, 200*time.Millisecond)
	ctx := t.Context()
	appID := createApp(t, a.Admin, "ES256").GetApp().GetAppId()
	var tokens []*tokendv1.IssueTokenResponse
	for _, sub := range []string{"alice", "bob"} {
		issued, err := a.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: sub})
		if err != nil {
			t.Fatalf("IssueToken: %v", err)
		}
		tokens = append(tokens, issued)
		within(t, time.Second, "B validates A's token", func() error { return validity(b, issued.GetAccessToken()) })
	}

	execSQL(t, dsn, `ALTER TABLE revocations DISABLE TRIGGER revocations_notify`)
	if _, err := a.Admin.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appID, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: tokens[0].GetTokenId()}}); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	within(t, 2*time.Second, "B refuses the token revoked without notification",
		refusedFor(b, tokens[0].GetAccessToken(), tokendv1.InvalidReason_INVALID_REASON_REVOKED))

	execSQL(t, dsn, `ALTER TABLE apps DISABLE TRIGGER apps_notify`)
	disabled := false
	if _, err := a.Admin.UpdateApp(ctx, &tokendv1.UpdateAppRequest{AppId: appID, Enabled: &disabled}); err != nil {
		t.Fatalf("UpdateApp: %v", err)
	}
	within(t, 2*time.Second, "B knows the app disabled without notification",
		refusedFor(b, tokens[1].GetAccessToken(), tokendv1.InvalidReason_INVALID_REASON_APP_DISABLED))
}

// TestReplicationFeedsWatchKeys watches replica B while replica A makes
// the changes: B's WatchKeys streams carry them (the replicator writes
// through the Registry and the Denylist, whose hooks publish), and A's own
// stream carries each change once, not again when A hears its own
// notification.
func TestReplicationFeedsWatchKeys(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	a, b := startReplica(t, dsn, time.Hour), startReplica(t, dsn, time.Hour)
	ctx := t.Context()
	appID := createApp(t, a.Admin, "ES256").GetApp().GetAppId()
	issued, err := a.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "alice"})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	within(t, time.Second, "B validates A's token", func() error { return validity(b, issued.GetAccessToken()) })
	onA := openWatch(t, a.Admin, &tokendv1.WatchKeysRequest{AppId: appID})
	onB := openWatch(t, b.Admin, &tokendv1.WatchKeysRequest{AppId: appID})
	for _, w := range []*watchStream{onA, onB} {
		if snap := w.next(t, "snapshot"); !snap.GetFullSnapshot() {
			t.Fatalf("first message %v, want a snapshot", snap)
		}
	}

	if _, err := a.Admin.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appID, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: issued.GetTokenId()}}); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	for name, w := range map[string]*watchStream{"A": onA, "B": onB} {
		msg := w.next(t, "revocation on "+name)
		if revs := msg.GetRevocations(); len(revs) != 1 || revs[0].GetTokenId() != issued.GetTokenId() {
			t.Errorf("%s's stream after the revocation on A: %v, want the revocation", name, msg)
		}
	}
	rotated, err := a.Admin.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: appID})
	if err != nil {
		t.Fatalf("RotateAppKey: %v", err)
	}
	msg := onB.next(t, "rotation on B")
	if got := appsByID(msg)[appID]; got == nil || !slices.Contains(kidsOf(t, got), rotated.GetKey().GetKeyId()) {
		t.Errorf("B's stream after the rotation on A: %v, want the app with the new key", msg)
	}
	if msg := onA.next(t, "rotation on A"); appsByID(msg)[appID] == nil {
		t.Errorf("A's stream after its rotation: %v, want the app", msg)
	}
	onA.quiet(t, 300*time.Millisecond, "A hearing its own changes")
	onB.quiet(t, 50*time.Millisecond, "B after the changes")
}

// TestReplicationRetriesFailedSync makes replica B's store queries fail
// (an error-injecting wrapper; its change feed is untouched) while A
// changes things: a revocation still applies at once (its notification
// carries the entry, no query needed), a key rotation cannot be read and
// is retried by a resync once the store answers again.
func TestReplicationRetriesFailedSync(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	a := startReplica(t, dsn, time.Hour)
	var broken *faulty.Store
	b := servertest.Start(t, servertest.WithConfig(func(c *server.Config) {
		c.Store, c.KEK = dsn, testKEK
		c.KeyCheckInterval, c.CallerReloadInterval, c.ResyncInterval = time.Hour, 0, time.Hour
	}), servertest.WithServerOption(server.WithStoreWrapper(func(st storage.Store) storage.Store {
		broken = faulty.New(st)
		return broken
	})))
	ctx := t.Context()
	appID := createApp(t, a.Admin, "ES256").GetApp().GetAppId()
	issued, err := a.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "alice"})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	within(t, time.Second, "B validates A's token", func() error { return validity(b, issued.GetAccessToken()) })

	broken.Break(nil)
	if _, err := a.Admin.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appID, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: issued.GetTokenId()}}); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	within(t, time.Second, "B refuses the revoked token with its store failing",
		refusedFor(b, issued.GetAccessToken(), tokendv1.InvalidReason_INVALID_REASON_REVOKED))
	if _, err := a.Admin.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: appID, ActivationDelay: durationpb.New(0)}); err != nil {
		t.Fatalf("RotateAppKey: %v", err)
	}
	newKey, err := a.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "bob"})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	within(t, time.Second, "B's failed sync is logged", func() error {
		if !strings.Contains(b.Logs.String(), "applying changes of other replicas failed") {
			return errors.New("not logged")
		}
		return nil
	})
	if err := validity(b, newKey.GetAccessToken()); err == nil {
		t.Fatal("B validates a token of a key it could not read")
	}
	// A change that applies meanwhile does not make B forget the failed one.
	if _, err := a.Admin.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appID, Target: &tokendv1.RevokeTokenRequest_Subject{Subject: "carol"}}); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	within(t, time.Second, "B applies a revocation after the failed sync", func() error {
		// The first revocation was the first such round.
		if strings.Count(b.Logs.String(), `"revocations":1,"apps":0,"callers":false,"failed":false`) < 2 {
			return errors.New("not applied yet")
		}
		return nil
	})
	broken.Repair()
	within(t, 3*time.Second, "B validates the new key's token once its store answers",
		func() error { return validity(b, newKey.GetAccessToken()) })
}
