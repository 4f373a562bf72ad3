package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/server"
)

// envOf is a lookupEnv over a map, so that tests run in parallel without
// touching the process environment.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokend.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, `
issuer: from-file
leeway: 10s
max_token_size: 2048
shutdown_grace: 3s
insecure: true
listen: 0.0.0.0:9000
`)
	o, err := loadServeOptions("tokend serve", []string{"--config", file, "--leeway", "20s", "--max-token-size=1024", "--listen", "127.0.0.1:9001"},
		envOf(map[string]string{"TOKEND_ISSUER": "from-env", "TOKEND_LEEWAY": "15s", "TOKEND_MAX_TOKEN_SIZE": "4096"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	def := server.DefaultConfig()
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		{"flag over env over file", o.cfg.Leeway, 20 * time.Second},
		{"flag over env over file (int)", o.cfg.MaxTokenSize, 1024},
		{"env over file", o.cfg.Issuer, "from-env"},
		{"file over default", o.cfg.ShutdownGrace, 3 * time.Second},
		{"file bool over default", o.cfg.Insecure, true},
		{"flag over file", o.cfg.GRPCListen, "127.0.0.1:9001"},
		{"default", o.cfg.JWKSMaxAge, def.JWKSMaxAge},
		{"log default", o.logLevel, "info"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}

	// TOKEND_CONFIG names the file when --config does not.
	o, err = loadServeOptions("tokend serve", nil, envOf(map[string]string{"TOKEND_CONFIG": file}), io.Discard)
	if err != nil || o.cfg.Issuer != "from-file" {
		t.Errorf("TOKEND_CONFIG: issuer %q, %v; want from-file", o.cfg.Issuer, err)
	}
	// Secrets from the environment and the file.
	secretFile := writeFile(t, "admin_key: tkd_from-the-file-0123456789\n")
	o, err = loadServeOptions("tokend serve", []string{"--config", secretFile},
		envOf(map[string]string{"TOKEND_KEK": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}), io.Discard)
	if err != nil || o.cfg.AdminKey != "tkd_from-the-file-0123456789" || o.cfg.KEK == "" {
		t.Errorf("secrets from file and env: %v", err)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		file   string
		want   []string // every one must be in the error
		usage  bool     // a usageError (exit code 2)
		noText string   // must not be in the error
	}{
		{name: "bad flag value", args: []string{"--max-token-size", "big"}, want: []string{"max-token-size", "--max-token-size", `"big"`}},
		{name: "flag out of range", args: []string{"--max-token-size", "10"}, want: []string{"config: max-token-size"}},
		{name: "bad env value", env: map[string]string{"TOKEND_LEEWAY": "soon"}, want: []string{"config: leeway", "TOKEND_LEEWAY"}},
		{name: "bad env bool", env: map[string]string{"TOKEND_INSECURE": "maybe"}, want: []string{"config: insecure", "TOKEND_INSECURE"}},
		{name: "bad file value", file: "keepalive_time: often\n", want: []string{"config: keepalive-time", "config file"}},
		{name: "file value out of range", file: "trace_sample_ratio: 2\n", want: []string{"config: trace-sample-ratio"}},
		{name: "unknown file field", file: "issuer: x\nlisten_addr: 1.2.3.4:5\n", want: []string{`unknown field "listen_addr"`, "line 2"}},
		{name: "file field twice", file: "issuer: a\nissuer: b\n", want: []string{"config: issuer", "set twice"}},
		{name: "file list value", file: "issuer: [a, b]\n", want: []string{"config: issuer", "single value"}},
		{name: "file not a mapping", file: "- issuer\n", want: []string{"mapping"}},
		{name: "missing file", args: []string{"--config", "/nonexistent/tokend.yaml"}, want: []string{"config file"}},
		{name: "log level", args: []string{"--log-level", "loud"}, want: []string{"config: log-level"}},
		{name: "log format", env: map[string]string{"TOKEND_LOG_FORMAT": "xml"}, want: []string{"config: log-format"}},
		{name: "access log", file: "access_log: some\n", want: []string{"config: access-log"}},
		{name: "several at once", args: []string{"--leeway", "x"}, env: map[string]string{"TOKEND_MAX_TOKEN_SIZE": "y"}, want: []string{"config: leeway", "config: max-token-size"}},
		{name: "validation after parsing", env: map[string]string{"TOKEND_ISSUER": ""}, want: []string{"config: issuer"}},
		{name: "secret flag", args: []string{"--kek=c2VjcmV0LWtlay12YWx1ZQ"}, want: []string{"--kek", "TOKEND_KEK"}, usage: true, noText: "c2VjcmV0LWtlay12YWx1ZQ"},
		{name: "secret flag admin key", args: []string{"-admin-key", "tkd_secret-value-123456"}, want: []string{"--admin-key", "TOKEND_ADMIN_KEY"}, usage: true, noText: "tkd_secret-value-123456"},
		{name: "store password flag", args: []string{"--store", "postgres://u:hunter2@h/db"}, want: []string{"--store", "TOKEND_STORE"}, usage: true, noText: "hunter2"},
		{name: "arguments", args: []string{"extra"}, want: []string{"no arguments"}, usage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", writeFile(t, tt.file)}, args...)
			}
			env := tt.env
			if env == nil {
				env = map[string]string{}
			}
			_, err := loadServeOptions("tokend serve", args, envOf(env), io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			var u usageError
			if errors.As(err, &u) != tt.usage {
				t.Errorf("usage error = %v, want %v (%v)", errors.As(err, &u), tt.usage, err)
			}
			if tt.noText != "" && strings.Contains(err.Error(), tt.noText) {
				t.Errorf("error %q repeats the secret", err)
			}
		})
	}
}

// TestEveryConfigFieldHasASetting: each field of server.Config is bound
// by exactly one setting, so that every field has its flag, environment
// variable and config file key from one definition.
func TestEveryConfigFieldHasASetting(t *testing.T) {
	t.Parallel()
	var o serveOptions
	bound := map[uintptr]string{}
	names := map[string]bool{}
	for _, s := range settings {
		if names[s.name] {
			t.Errorf("setting %q is defined twice", s.name)
		}
		names[s.name] = true
		if s.help == "" {
			t.Errorf("setting %q has no help", s.name)
		}
		addr := reflect.ValueOf(s.field(&o)).Pointer()
		if other, ok := bound[addr]; ok {
			t.Errorf("settings %q and %q bind the same field", s.name, other)
		}
		bound[addr] = s.name
	}
	cfg := reflect.ValueOf(&o.cfg).Elem()
	for i := range cfg.NumField() {
		f := cfg.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if _, ok := bound[cfg.Field(i).Addr().Pointer()]; !ok {
			t.Errorf("server.Config.%s has no setting: add it to settings in settings.go", f.Name)
		}
	}
}

// TestSettingsRoundTrip: the text of every setting's default parses back
// to the same value, so "tokend config print" writes a loadable file.
func TestSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	def := defaultServeOptions()
	for _, s := range settings {
		text := s.field(&def).String()
		var o serveOptions
		if err := s.field(&o).Set(text); err != nil {
			t.Errorf("%s: default %q does not parse: %v", s.name, text, err)
			continue
		}
		if got := s.field(&o).String(); got != text {
			t.Errorf("%s: %q reads back as %q", s.name, text, got)
		}
	}
}

func TestPrintConfigRedactsSecrets(t *testing.T) {
	t.Parallel()
	const (
		adminKey = "tkd_print-admin-key-0123456789"
		kek      = "c2VjcmV0LWtlay1ieXRlcy0wMTIzNDU2Nzg5MDEyMzQ1"
		password = "hunter2-print"
	)
	o, err := loadServeOptions("tokend config print", nil, envOf(map[string]string{
		"TOKEND_ADMIN_KEY": adminKey, "TOKEND_KEK": kek,
		"TOKEND_STORE": "postgres://tokend:" + password + "@db.internal:5432/tokend?sslmode=disable",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := printConfig(&out, o); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, secret := range []string{adminKey, kek, password} {
		if strings.Contains(text, secret) {
			t.Errorf("config print shows a secret:\n%s", text)
		}
	}
	for _, want := range []string{"admin_key: REDACTED", "kek: REDACTED", "store: postgres://tokend:REDACTED@db.internal:5432/tokend?sslmode=disable"} {
		if !strings.Contains(text, want) {
			t.Errorf("config print lacks %q:\n%s", want, text)
		}
	}

	// Without secrets the output is a config file that loads to the same
	// configuration.
	o, err = loadServeOptions("tokend config print", []string{"--issuer", "round-trip", "--rate-limit-admin", "5/s,burst=7"}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := printConfig(&out, o); err != nil {
		t.Fatal(err)
	}
	again, err := loadServeOptions("tokend serve", []string{"--config", writeFile(t, out.String())}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatalf("the printed config does not load: %v\n%s", err, out.String())
	}
	if !reflect.DeepEqual(again, o) {
		t.Errorf("printed config loads as %+v, want %+v", again, o)
	}
}

func TestServeHelp(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	_, err := loadServeOptions("tokend serve", []string{"-h"}, envOf(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"-max-token-size", "TOKEND_MAX_TOKEN_SIZE", "-config", "TOKEND_ADMIN_KEY", "Precedence"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "-kek value") || strings.Contains(out.String(), "-admin-key") {
		t.Errorf("help offers a secret as a flag:\n%s", out.String())
	}
}

// TestConfigCommand runs "tokend config print" and a bad "tokend serve"
// through the real binary, with secrets and bad values from each source.
func TestConfigCommand(t *testing.T) {
	t.Parallel()
	const adminKey = "tkd_binary-admin-key-0123456789"
	file := writeFile(t, "issuer: from-file\nmax_token_size: 4096\n")
	out, code := tokend(t, []string{"TOKEND_ADMIN_KEY=" + adminKey, "TOKEND_CONFIG=" + file, "TOKEND_MAX_TOKEN_SIZE=2048"},
		"config", "print", "--leeway", "5s")
	if code != 0 {
		t.Fatalf("config print = %d\n%s", code, out)
	}
	for _, want := range []string{"admin_key: REDACTED", "issuer: from-file", "max_token_size: 2048", "leeway: 5s"} {
		if !strings.Contains(out, want) {
			t.Errorf("config print lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, adminKey) {
		t.Errorf("config print shows the admin key:\n%s", out)
	}
	for _, tc := range []struct {
		name, field string
		env         []string
	}{
		{"env", "health-check-interval", []string{"TOKEND_HEALTH_CHECK_INTERVAL=never"}},
		{"file", "max-concurrent-streams", []string{"TOKEND_CONFIG=" + writeFile(t, "max_concurrent_streams: -1\n")}},
		{"validation", "default-rpc-timeout", []string{"TOKEND_DEFAULT_RPC_TIMEOUT=-1s"}},
	} {
		out, code := tokend(t, tc.env, "serve", "--data-dir", t.TempDir())
		if code == 0 || !strings.Contains(out, "config: "+tc.field) {
			t.Errorf("%s: serve = %d, want an error naming %s:\n%s", tc.name, code, tc.field, out)
		}
	}
}

var updateDocs = flag.Bool("update-docs", false, "rewrite the settings table of docs/operations.md")

const (
	docsPath     = "../../docs/operations.md"
	tableBegin   = "<!-- settings:begin (generated by go test ./cmd/tokend -run TestDocsSettingsTable -args -update-docs) -->"
	tableEnd     = "<!-- settings:end -->"
	defaultsNote = "Defaults as of this table; `tokend config print` shows the running values."
)

// settingsTable is the Markdown table of every setting.
func settingsTable() string {
	def := defaultServeOptions()
	var b strings.Builder
	b.WriteString(defaultsNote + "\n\n")
	b.WriteString("| flag | environment | config file | default | meaning |\n|---|---|---|---|---|\n")
	for _, s := range settings {
		flagName := "`--" + s.name + "`"
		if s.secret {
			flagName = "(secret: no flag)"
		}
		d := s.field(&def).String()
		if d != "" {
			d = "`" + d + "`"
		}
		fmt.Fprintf(&b, "| %s | `%s` | `%s` | %s | %s |\n", flagName, s.env(), s.yamlKey(), d, strings.ReplaceAll(s.help, "|", `\|`))
	}
	fmt.Fprintf(&b, "| `--config` | `%s` | | | YAML file of settings (keys as above) |\n", configEnv)
	return b.String()
}

// TestDocsSettingsTable: docs/operations.md lists every setting as the
// settings table defines it.
func TestDocsSettingsTable(t *testing.T) {
	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the settings table markers", docsPath)
	}
	want := tableBegin + "\n" + settingsTable() + tableEnd
	if doc[i:j+len(tableEnd)] == want {
		return
	}
	if !*updateDocs {
		t.Fatalf("the settings table of %s is stale: run go test ./cmd/tokend -run TestDocsSettingsTable -args -update-docs", docsPath)
	}
	if err := os.WriteFile(docsPath, []byte(doc[:i]+want+doc[j+len(tableEnd):]), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBytesValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		text string
		bad  bool
	}{
		{in: "0", want: 0, text: "0"},
		{in: "1000", want: 1000, text: "1000"},
		{in: "512KiB", want: 512 << 10, text: "512KiB"},
		{in: " 32MiB ", want: 32 << 20, text: "32MiB"},
		{in: "1024MiB", want: 1 << 30, text: "1GiB"},
		{in: "1 GiB", want: 1 << 30, text: "1GiB"},
		{in: "32MB", bad: true},
		{in: "-1", bad: true},
		{in: "MiB", bad: true},
		{in: "2048GiB", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var v bytesValue
			err := v.Set(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("Set(%q) = %d, want an error", tc.in, v)
				}
				return
			}
			if err != nil || uint64(v) != tc.want || v.String() != tc.text {
				t.Errorf("Set(%q): %d %q %v, want %d %q", tc.in, v, v.String(), err, tc.want, tc.text)
			}
		})
	}
}
