package main

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// binary is the tokend binary built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tokend-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "tokend")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build tokend: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a running "tokend serve" process.
type daemon struct {
	cmd    *exec.Cmd
	addr   string
	stdout *syncWriter
	stderr *syncWriter
	done   chan error
}

type syncWriter struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu <- struct{}{}
	defer func() { <-w.mu }()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu <- struct{}{}
	defer func() { <-w.mu }()
	return w.buf.String()
}

// startDaemon runs tokend serve on dir and waits until it serves.
func startDaemon(t *testing.T, dir string, env ...string) *daemon {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", dir)
	cmd.Env = append(cleanEnv(), env...)
	d := &daemon{cmd: cmd, stdout: &syncWriter{mu: make(chan struct{}, 1)}, stderr: &syncWriter{mu: make(chan struct{}, 1)}, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	cmd.Stdout = d.stdout
	cmd.Stderr = io.MultiWriter(d.stderr, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-d.done
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var line struct{ Msg, GRPC string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "tokend serving" {
				addr <- line.GRPC
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case d.addr = <-addr:
	case err := <-d.done:
		t.Fatalf("tokend serve exited: %v\n%s", err, d.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("tokend serve did not start:\n%s", d.stderr.String())
	}
	return d
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("tokend exited with %v after SIGTERM\n%s", err, d.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("tokend did not stop after SIGTERM")
	}
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOKEND_") {
			env = append(env, kv)
		}
	}
	return env
}

// runCLI runs an admin command and returns its stdout and exit code.
func runCLI(t *testing.T, d *daemon, apiKey string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--addr", d.addr)...)
	cmd.Env = append(cleanEnv(), "TOKEND_API_KEY="+apiKey)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return string(out) + stderr.String(), code
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	// The JSON document is everything up to the last closing brace line.
	end := strings.LastIndex(s, "\n}")
	if end < 0 {
		t.Fatalf("no JSON in %q", s)
	}
	if err := json.Unmarshal([]byte(s[:end+2]), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

// TestWalkthrough is the README walk-through, through the real binary.
func TestWalkthrough(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)

	var m []string
	for deadline := time.Now().Add(5 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		m = regexp.MustCompile(`export TOKEND_API_KEY=(tkd_\S+)`).FindStringSubmatch(d.stdout.String())
	}
	if m == nil {
		t.Fatalf("first start printed no admin key:\n%s", d.stdout.String())
	}
	key := m[1]
	if strings.Contains(d.stderr.String(), key) {
		t.Fatal("the generated admin key was logged")
	}
	if fi, err := os.Stat(filepath.Join(dir, "kek")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated KEK file: %v, %v; want mode 0600", fi, err)
	}

	keyFile := filepath.Join(t.TempDir(), "demo.pem")
	out, code := runCLI(t, d, key, "app", "create", "--name", "demo", "--key-out", keyFile)
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
		PrivateKeyPem string `json:"privateKeyPem"`
	}
	mustJSON(t, out, &created)
	if created.PrivateKeyPem != "" {
		t.Error("app create printed the private key")
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v, %v; want mode 0600", fi, err)
	}
	if out, code := runCLI(t, d, key, "app", "create", "--name", "demo2", "--key-out", keyFile); code == 0 {
		t.Errorf("app create overwrote an existing key file: %s", out)
	}

	out, code = runCLI(t, d, key, "token", "issue", "--app", created.App.AppID, "--subject", "alice", "--ttl", "30m", "--aud", "api", "--claim", "plan=\"pro\"")
	if code != 0 {
		t.Fatalf("token issue: %d %s", code, out)
	}
	var issued struct {
		AccessToken string `json:"accessToken"`
	}
	mustJSON(t, out, &issued)

	out, code = runCLI(t, d, key, "token", "validate", "--aud", "api", issued.AccessToken)
	if code != 0 || !strings.Contains(out, `"valid": true`) || !strings.Contains(out, `"plan": "pro"`) {
		t.Fatalf("token validate: %d %s", code, out)
	}
	out, code = runCLI(t, d, key, "token", "inspect", issued.AccessToken)
	if code != 0 || !strings.Contains(out, `"sub": "alice"`) || !strings.Contains(out, "NOT verified") {
		t.Fatalf("token inspect: %d %s", code, out)
	}
	tampered := []byte(issued.AccessToken)
	sig := strings.LastIndex(issued.AccessToken, ".") + 5
	if tampered[sig] == 'A' { // alter one signature character, staying base64url
		tampered[sig] = 'B'
	} else {
		tampered[sig] = 'A'
	}
	out, code = runCLI(t, d, key, "token", "validate", string(tampered))
	if code != 1 || !strings.Contains(out, "BAD_SIGNATURE") {
		t.Fatalf("tampered token: %d %s", code, out)
	}

	// The app's backend signs with the downloaded key.
	pemBytes, _ := os.ReadFile(keyFile)
	block, _ := pem.Decode(pemBytes)
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "sub": "bob", "aid": created.App.AppID,
	})
	backend, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	out, code = runCLI(t, d, key, "token", "validate", backend)
	if code != 0 || !strings.Contains(out, `"subject": "bob"`) {
		t.Fatalf("backend-signed token: %d %s", code, out)
	}

	out, code = runCLI(t, d, key, "app", "list")
	if code != 0 || !strings.Contains(out, created.App.AppID) {
		t.Fatalf("app list: %d %s", code, out)
	}
	out, code = runCLI(t, d, key, "app", "get", "app_nope")
	if code != 1 || !strings.Contains(out, "APP_NOT_FOUND") {
		t.Fatalf("app get unknown: %d %s", code, out)
	}
	out, code = runCLI(t, d, "tkd_wrong", "app", "list")
	if code != 1 || !strings.Contains(out, "CREDENTIALS_INVALID") {
		t.Fatalf("wrong key: %d %s", code, out)
	}

	d.stop(t)
	// A restart on the same data prints no new key and keeps everything.
	d2 := startDaemon(t, dir)
	if strings.Contains(d2.stdout.String(), "TOKEND_API_KEY=") {
		t.Error("restart generated another admin key")
	}
	out, code = runCLI(t, d2, key, "token", "validate", issued.AccessToken)
	if code != 0 {
		t.Fatalf("validate after restart: %d %s", code, out)
	}
	d2.stop(t)
}

func TestAdminKeyFromEnv(t *testing.T) {
	d := startDaemon(t, t.TempDir(), "TOKEND_ADMIN_KEY=tkd_my-own-admin-key-123456")
	if strings.Contains(d.stdout.String(), "TOKEND_API_KEY=") {
		t.Error("an admin key was generated although TOKEND_ADMIN_KEY is set")
	}
	if out, code := runCLI(t, d, "tkd_my-own-admin-key-123456", "app", "list"); code != 0 {
		t.Fatalf("app list with TOKEND_ADMIN_KEY: %d %s", code, out)
	}
	d.stop(t)
}

func TestBadConfigNamesTheField(t *testing.T) {
	for _, tt := range []struct {
		args  []string
		field string
	}{
		{[]string{"--listen", "nonsense"}, "listen"},
		{[]string{"--max-token-size", "10"}, "max-token-size"},
		{[]string{"--store", "mysql://x"}, "store"},
		{[]string{"--log-level", "loud"}, "log-level"},
		{[]string{"--extauthz-policy", "/nonexistent/extauthz.yaml"}, "extauthz-policy"},
	} {
		cmd := exec.Command(binary, append([]string{"serve", "--data-dir", t.TempDir()}, tt.args...)...)
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tt.field) {
			t.Errorf("serve %v: %v, %s; want an error naming %q", tt.args, err, out, tt.field)
		}
	}
}
