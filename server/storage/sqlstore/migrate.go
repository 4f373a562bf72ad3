package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// Migration is one schema change, read from a file named NNNN_name.sql.
type Migration struct {
	Version int
	Name    string // the file name without .sql
	SQL     string
}

// ReadMigrations returns the migrations in fsys ordered by version.
func ReadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, name := range names { // fs.Glob returns names sorted
		prefix, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %q: name must be NNNN_name.sql", name)
		}
		if len(ms) > 0 && ms[len(ms)-1].Version == version {
			return nil, fmt.Errorf("migration %q: version %d used twice", name, version)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: version, Name: strings.TrimSuffix(path.Base(name), ".sql"), SQL: string(body)})
	}
	return ms, nil
}

const (
	listMigrations  = `SELECT version FROM schema_migrations`
	insertMigration = `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`
)

// Migrate applies the migrations of fsys that the schema_migrations table
// of db does not list, in version order, each together with its
// schema_migrations row. apply runs each one: in a transaction of its own,
// or in the one db is. It refuses a database that has a migration this
// binary does not know (written by a newer tokend).
//
// The backend creates schema_migrations (version, name, applied_at) first
// and holds its migration lock around the call, so that processes starting
// together apply each migration once.
func (q *Queries) Migrate(ctx context.Context, db DB, fsys fs.FS, apply func(run func(DB) error) error) error {
	ms, err := ReadMigrations(fsys)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	versions, err := queryAll(ctx, db, func(row Row) (v int, err error) {
		return v, row.Scan(&v)
	}, q.listMigrations)
	if err != nil {
		return err
	}
	known := make(map[int]bool, len(ms))
	for _, m := range ms {
		known[m.Version] = true
	}
	applied := map[int]bool{}
	for _, v := range versions {
		if !known[v] {
			return fmt.Errorf("database has schema version %d, unknown to this binary", v)
		}
		applied[v] = true
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		err := apply(func(tx DB) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, q.insertMigration, m.Version, m.Name, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("apply %s: %w", m.Name, err)
		}
	}
	return nil
}
