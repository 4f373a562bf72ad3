package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable holding the DSN of the PostgreSQL
// server that tests use, e.g.
// postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable.
const EnvDSN = "TOKEND_TEST_POSTGRES_DSN"

// BaseDSN returns the DSN of the test server, or skips the test when
// EnvDSN is not set.
func BaseDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		t.Skip(EnvDSN + " is not set: skipping the PostgreSQL tests (make test starts a throwaway " +
			"PostgreSQL when its binaries are installed; or: scripts/pg-test.sh run go test ./...)")
	}
	return dsn
}

// DSN creates an empty schema in the test server and returns a DSN whose
// connections use it (search_path), with at most 4 connections per
// pool so that many parallel tests stay under the server's
// max_connections. The schema is dropped when the test ends. It skips the
// test when EnvDSN is not set.
func DSN(t testing.TB) string {
	t.Helper()
	base := BaseDSN(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "tokend_test_" + hex.EncodeToString(b)
	if err := exec(base, `CREATE SCHEMA `+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := exec(base, `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return WithParams(t, base, map[string]string{"search_path": name, "pool_max_conns": "4"})
}

// WithParams returns dsn with the given connection parameters set (a
// postgres:// URL gets them as query parameters, a key=value string as
// more pairs).
func WithParams(t testing.TB, dsn string, params map[string]string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("pgtest: %s is not a URL: %v", EnvDSN, err)
		}
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params {
		dsn += " " + k + "=" + v
	}
	return dsn
}

// exec runs one statement on a connection of its own.
func exec(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to the server of %s: %w", EnvDSN, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}
