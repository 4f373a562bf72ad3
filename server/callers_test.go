package server_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/limit"
	"github.com/tokend/tokend/server/servertest"
)

// handClock is a server clock the test moves.
type handClock struct {
	mu  sync.Mutex
	now time.Time
}

func newHandClock() *handClock { return &handClock{now: time.Now().UTC().Truncate(time.Second)} }

func (c *handClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *handClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newCaller(t *testing.T, h *servertest.Harness, name string, roles ...string) *tokendv1.CreateCallerResponse {
	t.Helper()
	resp, err := h.Admin.CreateCaller(t.Context(), &tokendv1.CreateCallerRequest{Name: name, Roles: roles})
	if err != nil {
		t.Fatalf("CreateCaller %s: %v", name, err)
	}
	return resp
}

func TestMissingAndWrongCredentials(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := t.Context()
	good := newCaller(t, h, "good", "validator").GetApiKey()
	tests := []struct {
		name string
		key  string
		want error
	}{
		{"none", "", client.ErrCredentialsMissing},
		{"unknown key", "tkd_" + strings.Repeat("A", 43), client.ErrCredentialsInvalid},
		{"altered key", good[:len(good)-1] + "x", client.ErrCredentialsInvalid},
		{"key without prefix", strings.TrimPrefix(good, auth.APIKeyPrefix), client.ErrCredentialsInvalid},
		{"key with a space", good + " x", client.ErrCredentialsInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := h.Client(t, tt.key)
			// Every service, admin or not, answers UNAUTHENTICATED before
			// anything else (even for a request that is itself invalid).
			_, e1 := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{})
			_, e2 := c.ListApps(ctx, &tokendv1.ListAppsRequest{PageSize: -1})
			_, e3 := c.ListCallers(ctx, &tokendv1.ListCallersRequest{})
			for i, err := range []error{e1, e2, e3} {
				if code, _ := codeReason(err); !errors.Is(err, tt.want) || code != codes.Unauthenticated {
					t.Errorf("call %d: %v, want Unauthenticated %v", i, err, tt.want)
				}
			}
		})
	}
	if _, err := h.Client(t, good).ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: "x"}); err != nil {
		t.Errorf("good key: %v", err)
	}
}

func TestRotateCallerKey(t *testing.T) {
	t.Parallel()
	clk := newHandClock()
	h := servertest.Start(t, servertest.WithClock(clk.Now))
	ctx := t.Context()
	rotate := func(id string, grace *durationpb.Duration) *tokendv1.RotateCallerKeyResponse {
		t.Helper()
		resp, err := h.Admin.RotateCallerKey(ctx, &tokendv1.RotateCallerKeyRequest{CallerId: id, GracePeriod: grace})
		if err != nil {
			t.Fatalf("RotateCallerKey: %v", err)
		}
		if !strings.HasPrefix(resp.GetApiKey(), auth.APIKeyPrefix) {
			t.Fatalf("new key %q lacks the prefix", resp.GetApiKey())
		}
		return resp
	}
	works := func(key string) error {
		_, err := h.Client(t, key).GetJWKS(ctx, &tokendv1.GetJWKSRequest{})
		return err
	}

	t.Run("default grace is 24h", func(t *testing.T) {
		c := newCaller(t, h, "default-grace", "validator")
		resp := rotate(c.GetCaller().GetCallerId(), nil)
		if got, want := resp.GetPreviousKeysExpireAt().AsTime(), clk.Now().Add(24*time.Hour); !got.Equal(want) {
			t.Errorf("previous keys expire at %s, want %s", got, want)
		}
		if err := works(c.GetApiKey()); err != nil {
			t.Errorf("old key within the grace: %v", err)
		}
		if err := works(resp.GetApiKey()); err != nil {
			t.Errorf("new key: %v", err)
		}
	})
	t.Run("grace expires on the server clock", func(t *testing.T) {
		c := newCaller(t, h, "short-grace", "validator")
		resp := rotate(c.GetCaller().GetCallerId(), durationpb.New(time.Hour))
		clk.Advance(59 * time.Minute)
		if err := works(c.GetApiKey()); err != nil {
			t.Errorf("old key 1 minute before the end of the grace: %v", err)
		}
		clk.Advance(time.Minute)
		if err := works(c.GetApiKey()); !errors.Is(err, client.ErrCredentialsInvalid) {
			t.Errorf("old key at the end of the grace: %v, want ErrCredentialsInvalid", err)
		}
		if err := works(resp.GetApiKey()); err != nil {
			t.Errorf("new key: %v", err)
		}
	})
	t.Run("zero grace stops the old key at once", func(t *testing.T) {
		c := newCaller(t, h, "no-grace", "validator")
		resp := rotate(c.GetCaller().GetCallerId(), durationpb.New(0))
		if err := works(c.GetApiKey()); !errors.Is(err, client.ErrCredentialsInvalid) {
			t.Errorf("old key: %v, want ErrCredentialsInvalid", err)
		}
		if err := works(resp.GetApiKey()); err != nil {
			t.Errorf("new key: %v", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		_, err := h.Admin.RotateCallerKey(ctx, &tokendv1.RotateCallerKeyRequest{CallerId: "c_nope"})
		if !errors.Is(err, client.ErrCallerNotFound) {
			t.Errorf("unknown caller: %v, want ErrCallerNotFound", err)
		}
		c := newCaller(t, h, "negative-grace", "validator")
		_, err = h.Admin.RotateCallerKey(ctx, &tokendv1.RotateCallerKeyRequest{CallerId: c.GetCaller().GetCallerId(), GracePeriod: durationpb.New(-time.Second)})
		if !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("negative grace: %v, want ErrInvalidArgument", err)
		}
		_, err = h.Client(t, c.GetApiKey()).RotateCallerKey(ctx, &tokendv1.RotateCallerKeyRequest{CallerId: c.GetCaller().GetCallerId()})
		if !errors.Is(err, client.ErrRoleDenied) {
			t.Errorf("non-admin rotating its own key: %v, want ErrRoleDenied", err)
		}
	})
}

func TestRateLimitTripsAndRecovers(t *testing.T) {
	t.Parallel()
	clk := newHandClock()
	h := servertest.Start(t, servertest.WithClock(clk.Now), servertest.WithConfig(func(c *server.Config) {
		c.RateLimitIssuer = limit.Rate{PerSecond: 2, Burst: 3}
	}))
	ctx := t.Context()
	appID := createApp(t, h.Admin, "").GetApp().GetAppId()
	flooder := h.Client(t, newCaller(t, h, "flooder", "issuer", "validator").GetApiKey())
	other := h.Client(t, newCaller(t, h, "other", "issuer").GetApiKey())
	issue := func(c *client.Client) error {
		_, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s"})
		return err
	}
	for i := range 3 {
		if err := issue(flooder); err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
	}
	err := issue(flooder)
	var e *client.Error
	if !errors.As(err, &e) || e.Code != codes.ResourceExhausted || !errors.Is(err, client.ErrRateLimited) {
		t.Fatalf("call over the burst: %v, want RESOURCE_EXHAUSTED RATE_LIMITED", err)
	}
	if e.RetryDelay != 500*time.Millisecond || e.Metadata["retryAfterMs"] != "500" {
		t.Errorf("retry delay %s (metadata %v), want 500ms", e.RetryDelay, e.Metadata)
	}
	// The flood does not reach another caller, nor the flooder's validator
	// methods (unlimited by default).
	if err := issue(other); err != nil {
		t.Errorf("another caller during the flood: %v", err)
	}
	for range 20 {
		if _, err := flooder.GetJWKS(ctx, &tokendv1.GetJWKSRequest{}); err != nil {
			t.Fatalf("the flooder's validator calls: %v", err)
		}
	}
	// It recovers after the retry delay, on the server's clock.
	clk.Advance(e.RetryDelay)
	if err := issue(flooder); err != nil {
		t.Errorf("after the retry delay: %v", err)
	}
	if err := issue(flooder); !errors.Is(err, client.ErrRateLimited) {
		t.Errorf("right after: %v, want ErrRateLimited", err)
	}
	clk.Advance(2 * time.Second)
	for i := range 3 {
		if err := issue(flooder); err != nil {
			t.Errorf("call %d after a full refill: %v", i, err)
		}
	}
}

// auditEvents returns the audit records the server logged.
func auditEvents(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if rec["msg"] == "audit" {
			out = append(out, rec)
		}
	}
	return out
}

func TestAuditEvents(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := t.Context()
	created := createApp(t, h.Admin, "")
	appID := created.GetApp().GetAppId()
	issuerResp, err := h.Admin.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: "billing", Roles: []string{"issuer", "validator"}, AppIds: []string{appID}})
	if err != nil {
		t.Fatal(err)
	}
	issuer := h.Client(t, issuerResp.GetApiKey())
	issued, err := issuer.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "user-7", IssueRefreshToken: true})
	if err != nil {
		t.Fatal(err)
	}
	refreshed, err := issuer.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: issued.GetRefreshToken()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := issuer.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appID, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: issued.GetTokenId()}, Reason: "lost laptop"}); err != nil {
		t.Fatal(err)
	}
	_, denied := issuer.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: "app_other", Subject: "user-7"})
	if !errors.Is(denied, client.ErrAppScopeDenied) {
		t.Fatalf("issuing out of scope: %v", denied)
	}
	if _, err := issuer.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken()}); err != nil {
		t.Fatal(err)
	}
	desc := "audited"
	if _, err := h.Admin.UpdateApp(ctx, &tokendv1.UpdateAppRequest{AppId: appID, Description: &desc}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Admin.RotateCallerKey(ctx, &tokendv1.RotateCallerKeyRequest{CallerId: issuerResp.GetCaller().GetCallerId()}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Admin.DeleteCaller(ctx, &tokendv1.DeleteCallerRequest{CallerId: issuerResp.GetCaller().GetCallerId()}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Admin.ListApps(ctx, &tokendv1.ListAppsRequest{}); err != nil {
		t.Fatal(err)
	}
	h.Stop()

	events := auditEvents(t, h.Logs.String())
	callerID := issuerResp.GetCaller().GetCallerId()
	want := []map[string]any{
		{"method": "tokend.v1.AppService/CreateApp", "caller": auth.BootstrapAdminID, "app": appID, "key_id": created.GetKey().GetKeyId(), "outcome": "success", "code": "OK"},
		{"method": "tokend.v1.CallerService/CreateCaller", "caller": auth.BootstrapAdminID, "target_caller": callerID, "outcome": "success"},
		{"method": "tokend.v1.TokenService/IssueToken", "caller": "billing", "caller_id": callerID, "credential": "api-key", "app": appID, "subject": "user-7", "token_id": issued.GetTokenId(), "key_id": issued.GetKeyId(), "outcome": "success", "code": "OK"},
		{"method": "tokend.v1.TokenService/RefreshToken", "caller": "billing", "app": appID, "subject": "user-7", "token_id": refreshed.GetTokenId(), "outcome": "success"},
		{"method": "tokend.v1.TokenService/RevokeToken", "caller": "billing", "app": appID, "token_id": issued.GetTokenId(), "target": "token_id", "note": "lost laptop", "outcome": "success"},
		{"method": "tokend.v1.TokenService/IssueToken", "caller": "billing", "app": "app_other", "subject": "user-7", "outcome": "denied", "code": "PermissionDenied", "reason": "APP_SCOPE_DENIED"},
		{"method": "tokend.v1.AppService/UpdateApp", "caller": auth.BootstrapAdminID, "app": appID, "outcome": "success"},
		{"method": "tokend.v1.CallerService/RotateCallerKey", "caller": auth.BootstrapAdminID, "target_caller": callerID, "outcome": "success"},
		{"method": "tokend.v1.CallerService/DeleteCaller", "caller": auth.BootstrapAdminID, "target_caller": callerID, "outcome": "success"},
	}
	if len(events) != len(want) {
		t.Errorf("%d audit events, want %d (ValidateToken and ListApps are not audited): %v", len(events), len(want), events)
	}
	for i := range min(len(events), len(want)) {
		for k, v := range want[i] {
			if events[i][k] != v {
				t.Errorf("audit event %d (%v): %s = %v, want %v", i, events[i]["method"], k, events[i][k], v)
			}
		}
		if events[i]["request_id"] == nil || events[i]["level"] != "INFO" {
			t.Errorf("audit event %d lacks a request id or is not INFO: %v", i, events[i])
		}
	}
}

func TestCallersFile(t *testing.T) {
	t.Parallel()
	key, hash, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "callers.yaml")
	body := "callers:\n  - name: gitops-validator\n    roles: [validator]\n    api_key_sha256: " + hash + "\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	h := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.CallersFile = path }))
	c := h.Client(t, key)
	if _, err := c.GetJWKS(t.Context(), &tokendv1.GetJWKSRequest{}); err != nil {
		t.Errorf("caller of the callers file: %v", err)
	}
	if _, err := c.ListApps(t.Context(), &tokendv1.ListAppsRequest{}); !errors.Is(err, client.ErrRoleDenied) {
		t.Errorf("caller of the callers file beyond its role: %v, want ErrRoleDenied", err)
	}
	list, err := h.Admin.ListCallers(t.Context(), &tokendv1.ListCallersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, lc := range list.GetCallers() {
		found = found || lc.GetCallerId() == auth.FileCallerIDPrefix+"gitops-validator"
	}
	if !found {
		t.Errorf("ListCallers lacks the file caller: %v", list)
	}

	if err := os.WriteFile(path, []byte("callers:\n  - name: x\n    roles: [validator]\n    api_key: "+key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.GRPCListen, cfg.HTTPListen, cfg.DataDir, cfg.CallersFile = "127.0.0.1:0", "", t.TempDir(), path
	if _, err := newServer(t, cfg); err == nil || !strings.Contains(err.Error(), "callers-file") || strings.Contains(err.Error(), key) {
		t.Errorf("a callers file holding a clear key: %v, want a callers-file error without the key", err)
	}
}

func TestTransportConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(*server.Config)
		field string // "" when valid
	}{
		{"loopback plain text", func(c *server.Config) { c.GRPCListen, c.HTTPListen = "127.0.0.1:7443", "[::1]:7080" }, ""},
		{"localhost plain text", func(c *server.Config) { c.GRPCListen = "localhost:7443" }, ""},
		{"all interfaces plain text", func(c *server.Config) { c.GRPCListen = "0.0.0.0:7443" }, "listen"},
		{"empty host plain text", func(c *server.Config) { c.GRPCListen = ":7443" }, "listen"},
		{"HTTP on all interfaces", func(c *server.Config) { c.HTTPListen = ":7080" }, "http-listen"},
		{"insecure allows it", func(c *server.Config) { c.GRPCListen, c.HTTPListen, c.Insecure = ":7443", ":7080", true }, ""},
		{"TLS allows it", func(c *server.Config) { c.GRPCListen, c.TLSCert, c.TLSKey = ":7443", "c.pem", "k.pem" }, ""},
		{"cert without key", func(c *server.Config) { c.TLSCert = "c.pem" }, "tls-key"},
		{"key without cert", func(c *server.Config) { c.TLSKey = "k.pem" }, "tls-cert"},
		{"client CA without TLS", func(c *server.Config) { c.ClientCA = "ca.pem" }, "client-ca"},
		{"negative rate", func(c *server.Config) { c.RateLimitIssuer = limit.Rate{PerSecond: -1} }, "rate-limit-issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := server.DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("Validate: %v, want valid", err)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), "config: "+tt.field+":")):
				t.Errorf("Validate: %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestInsecureNonLoopbackWarns(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t, servertest.WithConfig(func(c *server.Config) {
		c.GRPCListen, c.HTTPListen, c.Insecure = "0.0.0.0:0", "", true
	}))
	h.Stop()
	logs := h.Logs.String()
	if !strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, "plain text on a non-loopback address") {
		t.Errorf("no warning for plain text on 0.0.0.0: %s", logs)
	}
}

func TestMissingTLSFilesFailStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.GRPCListen, cfg.HTTPListen, cfg.DataDir = "127.0.0.1:0", "", dir
	cfg.TLSCert, cfg.TLSKey = filepath.Join(dir, "missing.pem"), filepath.Join(dir, "missing-key.pem")
	if _, err := newServer(t, cfg); err == nil || !strings.Contains(err.Error(), "tls") {
		t.Errorf("start with missing TLS files: %v, want a TLS error", err)
	}
}
