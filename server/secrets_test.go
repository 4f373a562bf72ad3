package server_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/servertest"
)

// secretParts returns what must never appear in a log: the secret and its
// distinctive pieces (each JWS segment, the random part of a prefixed key,
// each base64 line of a PEM body).
func secretParts(secret string) []string {
	parts := []string{secret}
	add := func(p string) {
		if len(p) >= 16 {
			parts = append(parts, p)
		}
	}
	switch {
	case strings.Contains(secret, "-----BEGIN"):
		for _, line := range strings.Split(secret, "\n") {
			if !strings.HasPrefix(line, "-----") {
				add(line)
			}
		}
	case strings.Count(secret, ".") == 2:
		for _, seg := range strings.Split(secret, ".")[1:] { // the header is not secret
			add(seg)
		}
	default:
		if _, rest, ok := strings.Cut(secret, "_"); ok {
			add(rest)
		}
	}
	return parts
}

// TestLogsHoldNoSecrets runs a full session (TLS and mTLS, API keys made,
// rotated and mistyped, apps and keys made, tokens issued, refreshed,
// reused, revoked and validated, callers deleted) and scans everything the
// server logged for any token, refresh token, API key or private key.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	e := startMTLS(t)
	h, ctx := e.h, t.Context()
	secrets := map[string]string{"admin API key": servertest.AdminKey}
	keep := func(name, secret string) string {
		t.Helper()
		if secret == "" {
			t.Fatalf("the %s is empty", name)
		}
		secrets[name] = secret
		return secret
	}
	pem, err := os.ReadFile(e.server.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	keep("server TLS private key", string(pem))

	created := createApp(t, h.Admin, "")
	appID := created.GetApp().GetAppId()
	keep("app private key", created.GetPrivateKeyPem())
	rotated, err := h.Admin.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: appID, ActivationDelay: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	keep("rotated app private key", rotated.GetPrivateKeyPem())

	const spiffe = "spiffe://example.org/ns/shop/sa/api"
	svc, err := h.Admin.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: "svc", Roles: []string{"issuer", "validator"}, MtlsIdentity: spiffe})
	if err != nil {
		t.Fatal(err)
	}
	keep("caller API key", svc.GetApiKey())
	rot, err := h.Admin.RotateCallerKey(ctx, &tokendv1.RotateCallerKeyRequest{CallerId: svc.GetCaller().GetCallerId()})
	if err != nil {
		t.Fatal(err)
	}
	keep("rotated caller API key", rot.GetApiKey())
	clientCert := e.ca.Client(t, "svc", spiffe)
	keep("client TLS private key", clientCert.KeyPEM)

	byKey := e.client(t, nil, rot.GetApiKey())
	byCert := e.client(t, &clientCert.TLS, "")
	issued, err := byKey.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "secret-subject", IssueRefreshToken: true})
	if err != nil {
		t.Fatal(err)
	}
	keep("access token", issued.GetAccessToken())
	keep("refresh token", issued.GetRefreshToken())
	refreshed, err := byCert.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: issued.GetRefreshToken()})
	if err != nil {
		t.Fatal(err)
	}
	keep("refreshed access token", refreshed.GetAccessToken())
	keep("rotated refresh token", refreshed.GetRefreshToken())
	// Reuse of the first refresh token: detected, and logged, but not the token.
	if _, err := byCert.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: issued.GetRefreshToken()}); err == nil {
		t.Error("reusing a refresh token succeeded")
	}
	other, err := byCert.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "s2", IssueRefreshToken: true})
	if err != nil {
		t.Fatal(err)
	}
	keep("second refresh token", other.GetRefreshToken())
	if _, err := byCert.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: appID, Target: &tokendv1.RevokeTokenRequest_RefreshToken{RefreshToken: other.GetRefreshToken()}}); err != nil {
		t.Fatal(err)
	}
	_, _ = byCert.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken()})
	_, _ = byCert.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken() + "x"})
	_, _ = byCert.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: refreshed.GetAccessToken(), AppId: "app_mismatch"})

	// Wrong credentials: a mistyped key, an old key, a key with a cert of
	// another caller.
	wrong := keep("mistyped API key", rot.GetApiKey()[:len(rot.GetApiKey())-2]+"zz")
	for _, key := range []string{wrong, svc.GetApiKey() + "x"} {
		if _, err := e.client(t, nil, key).ListApps(ctx, &tokendv1.ListAppsRequest{}); !errors.Is(err, client.ErrCredentialsInvalid) {
			t.Errorf("wrong key: %v", err)
		}
	}
	admin := e.client(t, &clientCert.TLS, servertest.AdminKey)
	if _, err := admin.ListApps(ctx, &tokendv1.ListAppsRequest{}); !errors.Is(err, client.ErrCredentialsInvalid) {
		t.Errorf("key of another caller than the cert: %v", err)
	}
	if _, err := h.Admin.DeleteCaller(ctx, &tokendv1.DeleteCallerRequest{CallerId: svc.GetCaller().GetCallerId()}); err != nil {
		t.Fatal(err)
	}
	_, _ = byKey.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "after-delete"})

	h.Stop()
	logs := h.Logs.String()
	for _, must := range []string{"finished call", `"msg":"audit"`, auth.CredentialMTLS} {
		if !strings.Contains(logs, must) {
			t.Fatalf("the logs lack %q, so the scan would prove little: %s", must, logs)
		}
	}
	for name, secret := range secrets {
		for _, part := range secretParts(secret) {
			if strings.Contains(logs, part) {
				t.Errorf("the logs hold the %s (%q)", name, part)
			}
		}
	}
}

// The scan itself finds a secret when one is logged.
func TestSecretPartsFindLeaks(t *testing.T) {
	t.Parallel()
	key, _, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	jwt := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwiYWlkIjoiYXBwIn0.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2"
	for _, tt := range []struct{ secret, log string }{
		{key, `{"msg":"x","key":"` + strings.TrimPrefix(key, auth.APIKeyPrefix) + `"}`},
		{jwt, `{"msg":"x","sig":"c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2"}`},
		{"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----\n", `line MIGHAgEAMBMGByqGSM49AgEGCCqGSM49`},
	} {
		found := false
		for _, p := range secretParts(tt.secret) {
			found = found || strings.Contains(tt.log, p)
		}
		if !found {
			t.Errorf("the scan misses %q in %q", tt.secret, tt.log)
		}
	}
}
