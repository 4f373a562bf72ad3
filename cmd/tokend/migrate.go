package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/tokend/tokend/server/storage/postgres"
	"github.com/tokend/tokend/server/storage/sqlite"
)

// migrateCmd applies the schema migrations of the configured store and
// exits: "tokend migrate". With PostgreSQL, operators run it before rolling
// out replicas of a new version (each replica would also migrate at start,
// under the same advisory lock).
func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokend migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	store := fs.String("store", env("STORE", ""), "store: sqlite, or a postgres:// URL without password (TOKEND_STORE, which may hold one)")
	dataDir := fs.String("data-dir", env("DATA_DIR", "data"), "directory of the embedded store (TOKEND_DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("migrate takes no arguments, got %q", fs.Args())}
	}
	if err := checkStoreFlag(fs); err != nil {
		return err
	}
	switch {
	case postgres.IsDSN(*store):
		if err := postgres.Migrate(ctx, *store); err != nil {
			return fmt.Errorf("tokend migrate: %w", err)
		}
		fmt.Fprintln(stdout, "tokend: PostgreSQL schema is up to date")
	case *store == "" || *store == "sqlite":
		path := filepath.Join(*dataDir, "tokend.db")
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			return fmt.Errorf("tokend migrate: %w", err)
		}
		if err := st.Close(); err != nil {
			return fmt.Errorf("tokend migrate: %w", err)
		}
		fmt.Fprintf(stdout, "tokend: SQLite schema of %s is up to date\n", path)
	default:
		return usageError{fmt.Sprintf("--store: want sqlite or a postgres:// URL, got %q", redactStore(*store))}
	}
	return nil
}

// checkStoreFlag refuses a --store given on the command line with a
// password in it: the command line shows in ps. The password belongs in
// TOKEND_STORE, PGPASSWORD or ~/.pgpass.
func checkStoreFlag(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "store" && postgres.IsDSN(f.Value.String()) && postgres.HasPassword(f.Value.String()) {
			err = usageError{"--store: the URL holds a password, which would show in ps: put the URL in " +
				"TOKEND_STORE, or the password in PGPASSWORD or ~/.pgpass"}
		}
	})
	return err
}

// redactStore hides everything of a URL-like store but its scheme.
func redactStore(s string) string {
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		return scheme + "://REDACTED"
	}
	return s
}
