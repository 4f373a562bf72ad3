package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokend/tokend/server/storage/postgres/pgtest"
)

// tokend runs the binary with the given environment (no TOKEND_* of the
// test's own) and returns its combined output and exit code.
func tokend(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
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

func TestMigrateSQLite(t *testing.T) {
	dir := t.TempDir()
	out, code := tokend(t, nil, "migrate", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("tokend migrate = %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "tokend.db")); err != nil {
		t.Errorf("no store after migrate: %v", err)
	}
}

// TestPostgresMigrateAndServe runs "tokend migrate" on a PostgreSQL
// database, then "tokend serve" on it, with the DSN in TOKEND_STORE, and
// drives it with the CLI.
func TestPostgresMigrateAndServe(t *testing.T) {
	dsn := pgtest.DSN(t)
	out, code := tokend(t, []string{"TOKEND_STORE=" + dsn}, "migrate")
	if code != 0 || !strings.Contains(out, "PostgreSQL schema is up to date") {
		t.Fatalf("tokend migrate = %d\n%s", code, out)
	}
	const adminKey = "tkd_pg-admin-key-0123456789"
	kek := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	d := startDaemon(t, t.TempDir(), "TOKEND_STORE="+dsn, "TOKEND_KEK="+kek, "TOKEND_ADMIN_KEY="+adminKey)
	out, code = runCLI(t, d, adminKey, "app", "create", "--name", "on-postgres", "--key-out", filepath.Join(t.TempDir(), "key.pem"))
	if code != 0 {
		t.Fatalf("app create = %d\n%s", code, out)
	}
	out, code = runCLI(t, d, adminKey, "app", "list")
	if code != 0 || !strings.Contains(out, "on-postgres") {
		t.Fatalf("app list = %d\n%s", code, out)
	}
	d.stop(t)
	if strings.Contains(d.stderr.String(), dsn) {
		t.Error("the server logged the store DSN")
	}
}

// TestStoreConfigRefused checks the PostgreSQL rules of the command line:
// no password in a --store flag (ps shows it), and no PostgreSQL store
// without a shared KEK. Neither needs a database: both are refused first.
func TestStoreConfigRefused(t *testing.T) {
	const withPassword = "postgres://tokend:hunter2-secret@127.0.0.1:1/tokend"
	for _, tc := range []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		want     string
	}{
		{"serve flag with password", nil, []string{"serve", "--store", withPassword}, 2, "TOKEND_STORE"},
		{"serve flag with password parameter", nil, []string{"serve", "--store", "postgres://127.0.0.1:1/tokend?password=hunter2-secret"}, 2, "TOKEND_STORE"},
		{"migrate flag with password", nil, []string{"migrate", "--store", withPassword}, 2, "TOKEND_STORE"},
		{"postgres without KEK", []string{"TOKEND_STORE=" + withPassword}, []string{"serve"}, 1, "config: kek"},
		{"unknown store", nil, []string{"migrate", "--store", "mysql://u:hunter2-secret@h/db"}, 2, "--store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := tokend(t, tc.env, tc.args...)
			if code != tc.wantCode || !strings.Contains(out, tc.want) {
				t.Errorf("tokend %v = %d, want %d and %q\n%s", tc.args, code, tc.wantCode, tc.want, out)
			}
			if strings.Contains(out, "hunter2-secret") {
				t.Errorf("the output shows the password:\n%s", out)
			}
		})
	}
}
