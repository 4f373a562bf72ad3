package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/tokend/tokend/server/servertest"
)

// runCLIEnv runs an admin command with the given environment and returns
// its output and exit code.
func runCLIEnv(t *testing.T, d *daemon, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--addr", d.addr)...)
	cmd.Env = append(cleanEnv(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return out.String(), 0
}

// TestCallersOverMTLS runs the server with TLS and a client CA, and the CLI
// with an API key over TLS and with a client certificate.
func TestCallersOverMTLS(t *testing.T) {
	ca := servertest.NewCA(t, "ops")
	srv := ca.Server(t)
	const adminKey = "tkd_cli-admin-key-0123456789"
	d := startDaemon(t, t.TempDir(),
		"TOKEND_TLS_CERT="+srv.CertFile, "TOKEND_TLS_KEY="+srv.KeyFile, "TOKEND_CLIENT_CA="+ca.CertFile,
		"TOKEND_ADMIN_KEY="+adminKey)
	tlsEnv := []string{"TOKEND_TLS_CA=" + ca.CertFile}

	// API key over TLS.
	out, code := runCLIEnv(t, d, append(tlsEnv, "TOKEND_API_KEY="+adminKey),
		"caller", "create", "--name", "ops", "--role", "admin", "--mtls-identity", "spiffe://example.org/ops")
	if code != 0 {
		t.Fatalf("caller create over TLS: %d %s", code, out)
	}
	var created struct {
		Caller struct {
			CallerID string `json:"callerId"`
		}
		APIKey string `json:"apiKey"`
	}
	mustJSON(t, out, &created)

	// Client certificate, no API key; the flags also work.
	cert := ca.Client(t, "ops", "spiffe://example.org/ops")
	out, code = runCLIEnv(t, d, nil, "caller", "list", "--tls-ca", ca.CertFile, "--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile)
	if code != 0 || !strings.Contains(out, `"spiffe://example.org/ops"`) {
		t.Fatalf("caller list with a client certificate: %d %s", code, out)
	}
	// TOKEND_TLS_CERT/KEY name the server's certificate, never the CLI's.
	out, code = runCLIEnv(t, d, append(tlsEnv, "TOKEND_TLS_CERT="+srv.CertFile, "TOKEND_TLS_KEY="+srv.KeyFile), "caller", "list")
	if code == 0 || !strings.Contains(out, "TOKEND_API_KEY") {
		t.Errorf("the CLI used the server's certificate variables: %d %s", code, out)
	}
	// Plain text to a TLS server fails.
	if out, code := runCLIEnv(t, d, []string{"TOKEND_API_KEY=" + adminKey}, "caller", "list"); code == 0 {
		t.Errorf("plain text to a TLS server worked: %s", out)
	}

	// Key rotation: the new key is printed once; with --grace 0s the old
	// one stops at once.
	out, code = runCLIEnv(t, d, append(tlsEnv, "TOKEND_API_KEY="+adminKey), "caller", "rotate-key", created.Caller.CallerID, "--grace", "0s")
	if code != 0 {
		t.Fatalf("caller rotate-key: %d %s", code, out)
	}
	var rotated struct {
		APIKey               string `json:"apiKey"`
		PreviousKeysExpireAt string `json:"previousKeysExpireAt"`
	}
	mustJSON(t, out, &rotated)
	if !strings.HasPrefix(rotated.APIKey, "tkd_") || rotated.APIKey == created.APIKey || rotated.PreviousKeysExpireAt == "" {
		t.Fatalf("rotate-key printed %+v", rotated)
	}
	if out, code := runCLIEnv(t, d, append(tlsEnv, "TOKEND_API_KEY="+created.APIKey), "caller", "list"); code == 0 || !strings.Contains(out, "CREDENTIALS_INVALID") {
		t.Errorf("old key after rotate-key --grace 0s: %d %s", code, out)
	}
	if out, code := runCLIEnv(t, d, append(tlsEnv, "TOKEND_API_KEY="+rotated.APIKey), "caller", "list"); code != 0 {
		t.Errorf("new key: %d %s", code, out)
	}
	if out, code := runCLIEnv(t, d, append(tlsEnv, "TOKEND_API_KEY="+adminKey), "caller", "rotate-key", created.Caller.CallerID, "--grace", "soon"); code != 2 {
		t.Errorf("rotate-key --grace soon: %d %s, want a usage error", code, out)
	}
	if strings.Contains(d.stderr.String(), rotated.APIKey) || strings.Contains(d.stderr.String(), adminKey) {
		t.Error("the server log holds an API key")
	}
	d.stop(t)
}

func TestCallerNewKey(t *testing.T) {
	out, err := exec.Command(binary, "caller", "new-key").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "api_key: tkd_") || len(strings.TrimPrefix(lines[1], "api_key_sha256: ")) != 64 {
		t.Errorf("caller new-key printed %q", out)
	}
}

func TestTransportConfigNamesTheField(t *testing.T) {
	for _, tt := range []struct {
		args  []string
		env   []string
		field string
	}{
		{[]string{"--tls-cert", "c.pem"}, nil, "tls-key"},
		{[]string{"--client-ca", "ca.pem"}, nil, "client-ca"},
		{[]string{"--listen", "0.0.0.0:0"}, nil, "listen"},
		{[]string{"--http-listen", ":0"}, nil, "http-listen"},
		{[]string{"--rate-limit-issuer", "fast"}, nil, "rate-limit-issuer"},
		{nil, []string{"TOKEND_RATE_LIMIT_ADMIN=10/fortnight"}, "rate-limit-admin"},
		{[]string{"--callers-file", "/nonexistent/callers.yaml"}, nil, "callers-file"},
	} {
		cmd := exec.Command(binary, append([]string{"serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, tt.args...)...)
		cmd.Env = append(cleanEnv(), tt.env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tt.field) {
			t.Errorf("serve %v %v: %v, %s; want an error naming %q", tt.args, tt.env, err, out, tt.field)
		}
	}
}
