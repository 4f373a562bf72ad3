package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestKeyCommands drives revoke-key, register-key and keys rewrap through
// the real binary.
func TestKeyCommands(t *testing.T) {
	const admin = "tkd_key-commands-admin-0123456789"
	dir := t.TempDir()
	d := startDaemon(t, dir, "TOKEND_ADMIN_KEY="+admin)
	work := t.TempDir()

	out, code := runCLI(t, d, admin, "app", "create", "--name", "keys", "--algorithm", "RS256", "--key-out", filepath.Join(work, "app.pem"))
	if code != 0 {
		t.Fatalf("app create: %d %s", code, out)
	}
	var created struct {
		App struct {
			AppID string `json:"appId"`
		}
		Key struct {
			KeyID string `json:"keyId"`
		}
	}
	mustJSON(t, out, &created)
	appID := created.App.AppID
	out, code = runCLI(t, d, admin, "token", "issue", "--app", appID, "--subject", "alice")
	if code != 0 {
		t.Fatalf("token issue: %d %s", code, out)
	}
	var issued struct {
		AccessToken string `json:"accessToken"`
	}
	mustJSON(t, out, &issued)

	// Bring your own key.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(ec.Public())
	pubFile := filepath.Join(work, "pub.pem")
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = runCLI(t, d, admin, "app", "register-key", appID, "--algorithm", "ES256", "--public-key-file", pubFile)
	if code != 0 {
		t.Fatalf("app register-key: %d %s", code, out)
	}
	var registered struct {
		Key struct {
			KeyID string `json:"keyId"`
			State string `json:"state"`
		}
	}
	mustJSON(t, out, &registered)
	if registered.Key.State != "KEY_STATE_ACTIVE" || !strings.Contains(out, registered.Key.KeyID) {
		t.Fatalf("app register-key: %s", out)
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "sub": "bob", "aid": appID})
	tok.Header["kid"] = registered.Key.KeyID
	byok, err := tok.SignedString(ec)
	if err != nil {
		t.Fatal(err)
	}
	if out, code := runCLI(t, d, admin, "token", "validate", byok); code != 0 {
		t.Fatalf("token of the registered key: %d %s", code, out)
	}
	if out, code := runCLI(t, d, admin, "app", "register-key", appID, "--algorithm", "ES256"); code != 2 {
		t.Errorf("register-key without a key file: %d %s, want usage error 2", code, out)
	}

	// Emergency revocation.
	out, code = runCLI(t, d, admin, "app", "revoke-key", appID, registered.Key.KeyID, "--reason", "test")
	if code != 0 || !strings.Contains(out, "KEY_STATE_RETIRED") {
		t.Fatalf("app revoke-key: %d %s", code, out)
	}
	if out, code := runCLI(t, d, admin, "token", "validate", byok); code != 1 || !strings.Contains(out, "UNKNOWN_KEY") {
		t.Errorf("token of the revoked key: %d %s, want UNKNOWN_KEY", code, out)
	}
	if out, code := runCLI(t, d, admin, "app", "revoke-key", appID, "k_nope"); code != 1 || !strings.Contains(out, "KEY_NOT_FOUND") {
		t.Errorf("revoke an unknown key: %d %s, want KEY_NOT_FOUND", code, out)
	}
	d.stop(t)

	// KEK rewrap, offline.
	oldKEK, err := os.ReadFile(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	newKEKFile := filepath.Join(work, "new.kek")
	if err := os.WriteFile(newKEKFile, []byte(base64.StdEncoding.EncodeToString(raw)), 0o600); err != nil {
		t.Fatal(err)
	}
	rewrap := func(env []string, args ...string) (string, int) {
		cmd := exec.Command(binary, append([]string{"keys", "rewrap"}, args...)...)
		cmd.Env = append(cleanEnv(), env...)
		b, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(b), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(b), 0
	}
	if out, code := rewrap(nil, "--data-dir", dir); code != 2 {
		t.Errorf("rewrap without a new KEK: %d %s, want 2", code, out)
	}
	out, code = rewrap(nil, "--data-dir", dir, "--new-kek-file", newKEKFile)
	if code != 0 || !strings.Contains(out, "rewrapped 1 private keys of 1 apps") || !strings.Contains(out, "now holds the new KEK") {
		t.Fatalf("keys rewrap: %d %s", code, out)
	}
	if out, code := rewrap(nil, "--data-dir", dir, "--new-kek-file", newKEKFile); code != 1 || !strings.Contains(out, "current one") {
		t.Errorf("rewrap to the KEK in use: %d %s", code, out)
	}
	if strings.Contains(out, strings.TrimSpace(string(oldKEK))) || strings.Contains(out, base64.StdEncoding.EncodeToString(raw)) {
		t.Error("keys rewrap printed a KEK")
	}

	d2 := startDaemon(t, dir, "TOKEND_ADMIN_KEY="+admin)
	if out, code := runCLI(t, d2, admin, "token", "validate", issued.AccessToken); code != 0 {
		t.Errorf("token issued before the rewrap: %d %s", code, out)
	}
	d2.stop(t)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", dir)
	cmd.Env = append(cleanEnv(), "TOKEND_KEK="+strings.TrimSpace(string(oldKEK)))
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "KEK") {
		t.Errorf("serve with the old KEK: %v %s, want a refusal naming the KEK", err, b)
	}
}
