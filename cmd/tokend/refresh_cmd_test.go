package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runCLIStdin is runCLI with stdin.
func runCLIStdin(t *testing.T, d *daemon, apiKey, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--addr", d.addr)...)
	cmd.Env = append(cleanEnv(), "TOKEND_API_KEY="+apiKey)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return string(out) + stderr.String(), exit.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", args, err)
	}
	return string(out) + stderr.String(), 0
}

// kill sends SIGKILL: no shutdown, nothing flushed that was not committed.
func (d *daemon) kill(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		t.Fatal("tokend did not die after SIGKILL")
	}
}

type tokenAnswer struct {
	AccessToken  string `json:"accessToken"`
	TokenID      string `json:"tokenId"`
	RefreshToken string `json:"refreshToken"`
}

// TestRefreshSurvivesKill9 refreshes through the CLI, kills the server with
// SIGKILL right after the CLI returned, and restarts it: the refresh token
// the CLI printed works, and the one it replaced is dead (reuse). Then it
// revokes through the CLI.
func TestRefreshSurvivesKill9(t *testing.T) {
	const key = "tkd_refresh-kill-test-admin-key"
	dir := t.TempDir()
	d := startDaemon(t, dir, "TOKEND_ADMIN_KEY="+key)

	out, code := runCLI(t, d, key, "app", "create", "--name", "kill", "--key-out", filepath.Join(t.TempDir(), "k.pem"))
	if code != 0 {
		t.Fatalf("app create: %d %s", code, out)
	}
	var created struct {
		App struct {
			AppID string `json:"appId"`
		}
	}
	mustJSON(t, out, &created)
	appID := created.App.AppID

	out, code = runCLI(t, d, key, "token", "issue", "--app", appID, "--subject", "alice", "--refresh")
	if code != 0 {
		t.Fatalf("token issue --refresh: %d %s", code, out)
	}
	var issued tokenAnswer
	mustJSON(t, out, &issued)
	if !strings.HasPrefix(issued.RefreshToken, "tkr_") {
		t.Fatalf("token issue --refresh printed no refresh token: %s", out)
	}

	// The refresh token from stdin, so that it does not show in ps.
	out, code = runCLIStdin(t, d, key, issued.RefreshToken+"\n", "token", "refresh", "-", "--ttl", "15m", "--idempotency-key", "k1")
	if code != 0 {
		t.Fatalf("token refresh: %d %s", code, out)
	}
	var refreshed tokenAnswer
	mustJSON(t, out, &refreshed)
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == issued.RefreshToken {
		t.Fatalf("token refresh printed refresh token %q", refreshed.RefreshToken)
	}
	d.kill(t)

	d2 := startDaemon(t, dir, "TOKEND_ADMIN_KEY="+key)
	out, code = runCLI(t, d2, key, "token", "refresh", refreshed.RefreshToken)
	if code != 0 {
		t.Fatalf("refresh with the token printed before SIGKILL: %d %s", code, out)
	}
	var last tokenAnswer
	mustJSON(t, out, &last)
	if out, code := runCLI(t, d2, key, "token", "validate", last.AccessToken); code != 0 {
		t.Fatalf("validate the new access token: %d %s", code, out)
	}

	out, code = runCLI(t, d2, key, "token", "revoke", "--app", appID, "--subject", "alice", "--reason", "test")
	if code != 0 || !strings.Contains(out, `"revokedRefreshTokens": 1`) {
		t.Fatalf("token revoke --subject: %d %s", code, out)
	}
	out, code = runCLI(t, d2, key, "token", "validate", last.AccessToken)
	if code != 1 || !strings.Contains(out, "REVOKED") {
		t.Fatalf("validate after revoking the subject: %d %s; want exit 1 and REVOKED", code, out)
	}
	out, code = runCLI(t, d2, key, "token", "refresh", last.RefreshToken)
	if code != 1 || !strings.Contains(out, "REFRESH_TOKEN_REVOKED") {
		t.Fatalf("refresh after revoking the subject: %d %s", code, out)
	}
	out, code = runCLI(t, d2, key, "token", "refresh", issued.RefreshToken)
	if code != 1 || !strings.Contains(out, "REFRESH_TOKEN_REUSED") {
		t.Fatalf("refresh with the token rotated before SIGKILL: %d %s", code, out)
	}

	for _, args := range [][]string{
		{"token", "revoke", "--app", appID},
		{"token", "revoke", "--app", appID, "--subject", "a", "--token-id", "b"},
		{"token", "revoke", "--subject", "a"},
		{"token", "refresh"},
	} {
		if out, code := runCLI(t, d2, key, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)\n%s", args, code, out)
		}
	}
	out, code = runCLI(t, d2, key, "token", "revoke", "--app", appID, "--token-id", last.TokenID)
	if code != 0 || !strings.Contains(out, `"revokedRefreshTokens": 0`) {
		t.Fatalf("token revoke --token-id: %d %s", code, out)
	}
	if strings.Contains(d.stderr.String()+d2.stderr.String(), issued.RefreshToken) {
		t.Error("the server logged a refresh token")
	}
	d2.stop(t)
}
