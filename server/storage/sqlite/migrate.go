package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// schema returns the embedded migrations directory.
func schema() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// migration is one schema change, read from a file named NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// readMigrations returns the migrations in fsys ordered by version.
func readMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names { // fs.Glob returns names sorted
		prefix, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %q: name must be NNNN_name.sql", name)
		}
		if len(ms) > 0 && ms[len(ms)-1].version == version {
			return nil, fmt.Errorf("migration %q: version %d used twice", name, version)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: strings.TrimSuffix(path.Base(name), ".sql"), sql: string(body)})
	}
	return ms, nil
}

// migrate applies the migrations of fsys that db does not have yet, all in
// one IMMEDIATE transaction, so that two processes opening a new file at once
// do not both apply them. It refuses a database that has a migration this
// binary does not know (written by a newer tokend).
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	ms, err := readMigrations(fsys)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	known := make(map[int]bool, len(ms))
	for _, m := range ms {
		known[m.version] = true
	}
	return inTx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		) STRICT`); err != nil {
			return err
		}
		versions, err := queryAll(ctx, tx, func(sc scanner) (v int, err error) {
			return v, sc.Scan(&v)
		}, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		applied := map[int]bool{}
		for _, v := range versions {
			if !known[v] {
				return fmt.Errorf("database has schema version %d, unknown to this binary", v)
			}
			applied[v] = true
		}
		for _, m := range ms {
			if applied[m.version] {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, time.Now().UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
}
