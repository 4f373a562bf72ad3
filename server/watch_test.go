package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"sort"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/servertest"
)

// changeDeadline is how soon a change must reach a watcher.
const changeDeadline = time.Second

// watchStream reads a WatchKeys stream in the background.
type watchStream struct {
	msgs   chan *tokendv1.WatchKeysResponse
	end    chan error
	cancel context.CancelFunc
}

func openWatch(t *testing.T, c *client.Client, req *tokendv1.WatchKeysRequest) *watchStream {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	st, err := c.WatchKeys(ctx, req)
	if err != nil {
		cancel()
		t.Fatalf("WatchKeys: %v", err)
	}
	w := &watchStream{msgs: make(chan *tokendv1.WatchKeysResponse, 100), end: make(chan error, 1), cancel: cancel}
	go func() {
		for {
			msg, err := st.Recv()
			if err != nil {
				w.end <- err
				return
			}
			w.msgs <- msg
		}
	}()
	t.Cleanup(cancel)
	return w
}

// next returns the next message, failing the test when none comes within
// changeDeadline.
func (w *watchStream) next(t *testing.T, what string) *tokendv1.WatchKeysResponse {
	t.Helper()
	select {
	case msg := <-w.msgs:
		return msg
	case err := <-w.end:
		t.Fatalf("%s: stream ended: %v", what, err)
	case <-time.After(changeDeadline):
		t.Fatalf("%s: no message within %s", what, changeDeadline)
	}
	return nil
}

// quiet fails when a message arrives within d.
func (w *watchStream) quiet(t *testing.T, d time.Duration, what string) {
	t.Helper()
	select {
	case msg := <-w.msgs:
		t.Fatalf("%s: unexpected message %v", what, msg)
	case <-time.After(d):
	}
}

// ended waits for the end of the stream and returns its error.
func (w *watchStream) ended(t *testing.T, within time.Duration) error {
	t.Helper()
	for {
		select {
		case <-w.msgs:
		case err := <-w.end:
			return err
		case <-time.After(within):
			t.Fatalf("stream did not end within %s", within)
		}
	}
}

func kidsOf(t *testing.T, a *tokendv1.WatchedApp) []string {
	t.Helper()
	var set struct {
		Keys []struct{ Kid string } `json:"keys"`
	}
	if err := json.Unmarshal([]byte(a.GetJwksJson()), &set); err != nil {
		t.Fatalf("jwks_json of %s: %v", a.GetAppId(), err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	sort.Strings(kids)
	return kids
}

func appsByID(msg *tokendv1.WatchKeysResponse) map[string]*tokendv1.WatchedApp {
	out := map[string]*tokendv1.WatchedApp{}
	for _, a := range msg.GetApps() {
		out[a.GetAppId()] = a
	}
	return out
}

func sorted(s ...string) []string { sort.Strings(s); return s }

func TestWatchKeysSnapshotAndChanges(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := t.Context()
	a, b := createApp(t, h.Admin, "ES256"), createApp(t, h.Admin, "EdDSA")
	appA, appB, kidA := a.GetApp().GetAppId(), b.GetApp().GetAppId(), a.GetKey().GetKeyId()
	revokedEarly := issue(t, h.Admin, appA, time.Hour)
	if _, err := h.Admin.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appA, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: revokedEarly.GetTokenId()}}); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}

	w := openWatch(t, h.Admin, &tokendv1.WatchKeysRequest{})
	snap := w.next(t, "snapshot")
	if !snap.GetFullSnapshot() || snap.GetVersion() <= 0 {
		t.Fatalf("first message: full_snapshot=%v version=%d, want a snapshot with a version", snap.GetFullSnapshot(), snap.GetVersion())
	}
	apps := appsByID(snap)
	if len(apps) != 2 || apps[appA] == nil || apps[appB] == nil {
		t.Fatalf("snapshot apps = %v, want %s and %s", apps, appA, appB)
	}
	if got := kidsOf(t, apps[appA]); !slices.Equal(got, []string{kidA}) || !apps[appA].GetEnabled() {
		t.Errorf("snapshot of A: kids %v enabled %v, want [%s] enabled", got, apps[appA].GetEnabled(), kidA)
	}
	if got := apps[appA].GetMaxTokenTtl().AsDuration(); got != 24*time.Hour {
		t.Errorf("snapshot of A: max_token_ttl = %s, want 24h", got)
	}
	if revs := snap.GetRevocations(); len(revs) != 1 || revs[0].GetTokenId() != revokedEarly.GetTokenId() || revs[0].GetAppId() != appA ||
		revs[0].GetExpiresAt() == nil || revs[0].GetRevokedAt() == nil {
		t.Errorf("snapshot revocations = %v, want the one token revoked before", revs)
	}
	version := snap.GetVersion()
	step := func(what string, change func()) *tokendv1.WatchKeysResponse {
		t.Helper()
		start := time.Now()
		change()
		msg := w.next(t, what)
		t.Logf("%s reached the watcher %v after the call began", what, time.Since(start).Round(time.Microsecond))
		if msg.GetFullSnapshot() || msg.GetVersion() <= version {
			t.Fatalf("%s: full_snapshot=%v version=%d after %d, want a change with a higher version", what, msg.GetFullSnapshot(), msg.GetVersion(), version)
		}
		version = msg.GetVersion()
		return msg
	}

	var nextKID string
	msg := step("rotation", func() {
		r, err := h.Admin.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: appA, ActivationDelay: durationpb.New(time.Hour)})
		if err != nil {
			t.Fatalf("RotateAppKey: %v", err)
		}
		nextKID = r.GetKey().GetKeyId()
	})
	got := appsByID(msg)[appA]
	if got == nil || len(msg.GetApps()) != 1 {
		t.Fatalf("rotation message apps = %v, want only %s", msg.GetApps(), appA)
	}
	if kids := kidsOf(t, got); !slices.Equal(kids, sorted(kidA, nextKID)) {
		t.Errorf("after rotation: kids %v, want %v", kids, sorted(kidA, nextKID))
	}
	if vu, ok := got.GetKeyVerifyUntil()[kidA]; !ok || !vu.AsTime().After(time.Now().Add(24*time.Hour)) {
		t.Errorf("after rotation: verify_until of the old key = %v, want a time after its successor's activation + max TTL", vu)
	}

	msg = step("key revocation", func() {
		if _, err := h.Admin.RevokeAppKey(ctx, &tokendv1.RevokeAppKeyRequest{AppId: appA, KeyId: nextKID, Reason: "test"}); err != nil {
			t.Fatalf("RevokeAppKey: %v", err)
		}
	})
	if kids := kidsOf(t, appsByID(msg)[appA]); !slices.Equal(kids, []string{kidA}) {
		t.Errorf("after key revocation: kids %v, want [%s]", kids, kidA)
	}

	msg = step("app disable", func() {
		if _, err := h.Admin.UpdateApp(ctx, &tokendv1.UpdateAppRequest{AppId: appB, Enabled: new(false)}); err != nil {
			t.Fatalf("UpdateApp: %v", err)
		}
	})
	if got := appsByID(msg)[appB]; got == nil || got.GetEnabled() || len(kidsOf(t, got)) != 1 {
		t.Errorf("after disable: %v, want app B disabled with its key", msg.GetApps())
	}

	tok := issue(t, h.Admin, appA, time.Hour)
	msg = step("token revocation", func() {
		if _, err := h.Admin.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appA, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: tok.GetTokenId()}}); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
	})
	if revs := msg.GetRevocations(); len(revs) != 1 || revs[0].GetTokenId() != tok.GetTokenId() || len(msg.GetApps()) != 0 {
		t.Errorf("token revocation message = %v", msg)
	}

	msg = step("subject revocation", func() {
		if _, err := h.Admin.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appB, Target: &tokendv1.RevokeTokenRequest_Subject{Subject: "mallory"}}); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
	})
	if revs := msg.GetRevocations(); len(revs) != 1 || revs[0].GetSubject() != "mallory" || revs[0].GetAppId() != appB {
		t.Errorf("subject revocation message = %v", msg)
	}

	var appC string
	msg = step("new app", func() { appC = createApp(t, h.Admin, "").GetApp().GetAppId() })
	// The registry learns a new app and then its first key: a watcher
	// may see the app first without a key (no token of it exists yet).
	if got := appsByID(msg)[appC]; got != nil && len(kidsOf(t, got)) == 0 {
		msg = w.next(t, "first key of the new app")
	}
	if got := appsByID(msg)[appC]; got == nil || len(kidsOf(t, got)) != 1 || !got.GetEnabled() {
		t.Errorf("new app message = %v, want app %s with its key", msg.GetApps(), appC)
	}
	w.quiet(t, 100*time.Millisecond, "after the last change")
}

func TestWatchKeysResume(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := t.Context()
	appA := createApp(t, h.Admin, "").GetApp().GetAppId()
	appB := createApp(t, h.Admin, "").GetApp().GetAppId()

	w := openWatch(t, h.Admin, &tokendv1.WatchKeysRequest{})
	held := w.next(t, "snapshot").GetVersion()
	w.cancel()

	// Missed while disconnected: a token revocation in A and B's disable.
	tok := issue(t, h.Admin, appA, time.Hour)
	if _, err := h.Admin.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appA, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: tok.GetTokenId()}}); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if _, err := h.Admin.UpdateApp(ctx, &tokendv1.UpdateAppRequest{AppId: appB, Enabled: new(false)}); err != nil {
		t.Fatalf("UpdateApp: %v", err)
	}

	w = openWatch(t, h.Admin, &tokendv1.WatchKeysRequest{ResumeVersion: held})
	msg := w.next(t, "resume")
	if msg.GetFullSnapshot() {
		t.Fatalf("resuming from a held version got a full snapshot")
	}
	if msg.GetVersion() <= held {
		t.Errorf("resume version = %d, want > %d", msg.GetVersion(), held)
	}
	if apps := msg.GetApps(); len(apps) != 1 || apps[0].GetAppId() != appB || apps[0].GetEnabled() {
		t.Errorf("resume apps = %v, want only B, disabled", apps)
	}
	if revs := msg.GetRevocations(); len(revs) != 1 || revs[0].GetTokenId() != tok.GetTokenId() {
		t.Errorf("resume revocations = %v, want only the missed one", revs)
	}
	current := msg.GetVersion()
	w.quiet(t, 100*time.Millisecond, "after the missed changes")
	w.cancel()

	// Nothing missed: an empty message that confirms the version.
	w = openWatch(t, h.Admin, &tokendv1.WatchKeysRequest{ResumeVersion: current})
	if msg := w.next(t, "resume, nothing missed"); msg.GetFullSnapshot() || msg.GetVersion() != current || len(msg.GetApps())+len(msg.GetRevocations()) != 0 {
		t.Errorf("resume with nothing missed = %v, want an empty change at version %d", msg, current)
	}
	w.cancel()

	// Versions the server cannot resume from: a full snapshot.
	for _, v := range []int64{0, 1, held - 1_000_000, current + 1} {
		w := openWatch(t, h.Admin, &tokendv1.WatchKeysRequest{ResumeVersion: v})
		if msg := w.next(t, "resume from an unknown version"); !msg.GetFullSnapshot() || len(msg.GetApps()) != 2 || len(msg.GetRevocations()) != 1 {
			t.Errorf("resume_version %d: %v, want a full snapshot of 2 apps and 1 revocation", v, msg)
		}
		w.cancel()
	}
}

func TestWatchKeysScopeAndErrors(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := t.Context()
	appA := createApp(t, h.Admin, "").GetApp().GetAppId()
	appB := createApp(t, h.Admin, "").GetApp().GetAppId()
	caller, err := h.Admin.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: "sidecar-a", Roles: []string{"validator"}, AppIds: []string{appA}})
	if err != nil {
		t.Fatalf("CreateCaller: %v", err)
	}
	scoped := h.Client(t, caller.GetApiKey())

	for _, tc := range []struct {
		name   string
		c      *client.Client
		req    *tokendv1.WatchKeysRequest
		code   codes.Code
		reason string
	}{
		{"app outside the scope", scoped, &tokendv1.WatchKeysRequest{AppId: appB}, codes.PermissionDenied, "APP_SCOPE_DENIED"},
		{"unknown app", h.Admin, &tokendv1.WatchKeysRequest{AppId: "app_nope"}, codes.NotFound, "APP_NOT_FOUND"},
		{"negative version", h.Admin, &tokendv1.WatchKeysRequest{ResumeVersion: -1}, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{"no credential", h.Client(t, ""), &tokendv1.WatchKeysRequest{}, codes.Unauthenticated, "CREDENTIALS_MISSING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := openWatch(t, tc.c, tc.req)
			err := w.ended(t, 5*time.Second)
			var e *client.Error // the client's stream interceptor converts stream errors too
			if !errors.As(err, &e) || e.Code != tc.code || e.Reason != tc.reason {
				t.Fatalf("got %v, want %s %s as *client.Error", err, tc.code, tc.reason)
			}
		})
	}

	// A caller scoped to A watching everything sees A only, and no change of B.
	w := openWatch(t, scoped, &tokendv1.WatchKeysRequest{})
	if apps := w.next(t, "snapshot").GetApps(); len(apps) != 1 || apps[0].GetAppId() != appA {
		t.Fatalf("scoped snapshot = %v, want only %s", apps, appA)
	}
	if _, err := h.Admin.UpdateApp(ctx, &tokendv1.UpdateAppRequest{AppId: appB, Enabled: new(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Admin.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appB, Target: &tokendv1.RevokeTokenRequest_Subject{Subject: "s"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Admin.UpdateApp(ctx, &tokendv1.UpdateAppRequest{AppId: appA, Enabled: new(false)}); err != nil {
		t.Fatal(err)
	}
	msg := w.next(t, "change of A")
	if len(msg.GetApps()) != 1 || msg.GetApps()[0].GetAppId() != appA || len(msg.GetRevocations()) != 0 {
		t.Fatalf("scoped watcher got %v, want only the change of %s", msg, appA)
	}
}

func TestWatchKeysEndsOnShutdown(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.ShutdownGrace = 30 * time.Second }))
	createApp(t, h.Admin, "")
	// Not h.Admin: Stop closes it before stopping the server.
	w := openWatch(t, h.Client(t, servertest.AdminKey), &tokendv1.WatchKeysRequest{})
	w.next(t, "snapshot")
	start := time.Now()
	h.Stop()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown took %s with a watch stream open; it must not wait for the stream", took)
	}
	if err := w.ended(t, 5*time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("stream ended with %v, want a clean end (io.EOF)", err)
	}
}

func TestWatchKeysMaxAge(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t, servertest.WithServerOption(server.WithWatchMaxAge(300*time.Millisecond)))
	createApp(t, h.Admin, "")
	w := openWatch(t, h.Admin, &tokendv1.WatchKeysRequest{})
	held := w.next(t, "snapshot").GetVersion()
	start := time.Now()
	if err := w.ended(t, 5*time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("old stream ended with %v, want io.EOF", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("stream lived %s past its snapshot, max age 300ms", took)
	}
	w = openWatch(t, h.Admin, &tokendv1.WatchKeysRequest{ResumeVersion: held})
	if msg := w.next(t, "resume after max age"); msg.GetFullSnapshot() || msg.GetVersion() != held {
		t.Errorf("reconnect after max age = %v, want a resume at %d", msg, held)
	}
}

func TestWatchKeysOff(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t, servertest.WithServerOption(server.WithoutWatchKeys()))
	w := openWatch(t, h.Admin, &tokendv1.WatchKeysRequest{})
	var e *client.Error
	if err := w.ended(t, 5*time.Second); !errors.As(err, &e) || e.Code != codes.Unimplemented || e.Reason != "UNIMPLEMENTED" {
		t.Fatalf("WatchKeys on a server without it: %v, want UNIMPLEMENTED", err)
	}
}

func TestGetJWKSCarriesAppPolicies(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := t.Context()
	a := createApp(t, h.Admin, "")
	appA := a.GetApp().GetAppId()
	appB := createApp(t, h.Admin, "").GetApp().GetAppId()
	if _, err := h.Admin.UpdateApp(ctx, &tokendv1.UpdateAppRequest{AppId: appB, Enabled: new(false), MaxTokenTtl: durationpb.New(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	all, err := h.Admin.GetJWKS(ctx, &tokendv1.GetJWKSRequest{})
	if err != nil {
		t.Fatal(err)
	}
	apps := map[string]*tokendv1.WatchedApp{}
	for _, w := range all.GetApps() {
		apps[w.GetAppId()] = w
	}
	if len(apps) != 2 || !apps[appA].GetEnabled() || apps[appB].GetEnabled() || apps[appB].GetMaxTokenTtl().AsDuration() != time.Hour {
		t.Fatalf("GetJWKS apps = %v", all.GetApps())
	}
	if kids := kidsOf(t, apps[appA]); !slices.Equal(kids, []string{a.GetKey().GetKeyId()}) {
		t.Errorf("app A's own JWKS = %v", kids)
	}
	one, err := h.Admin.GetJWKS(ctx, &tokendv1.GetJWKSRequest{AppId: appA})
	if err != nil {
		t.Fatal(err)
	}
	if len(one.GetApps()) != 1 || one.GetApps()[0].GetAppId() != appA || one.GetApps()[0].GetJwksJson() != one.GetJwksJson() {
		t.Errorf("GetJWKS(app) apps = %v, want A with the same JWKS", one.GetApps())
	}
}
