package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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

// migrationLockClass is the first key of the session advisory lock that
// serialises migrations (pg_advisory_lock(int, int)); the second is a hash
// of the schema migrated, so that tokend installations in separate schemas
// of one database do not wait for each other. The two-key space is apart
// from the one-key space of the refresh family locks.
const migrationLockClass = 0x746B6E64 // "tknd"

// Migrate connects to the database of dsn, applies the migrations it lacks
// and disconnects: what "tokend migrate" runs, for operators who migrate
// before rolling out replicas. Open does the same by itself.
func Migrate(ctx context.Context, dsn string) error {
	s, err := Open(ctx, dsn)
	if err != nil {
		return err
	}
	return s.Close()
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

// migrate applies the migrations of fsys that the database lacks, each in
// its own transaction together with its schema_migrations row, while
// holding a session advisory lock: replicas starting together queue on the
// lock, and each finds the migrations the first one applied. The lock is
// released at the end, or by the server if this process dies. It refuses a
// database that has a migration this binary does not know (written by a
// newer tokend).
func migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) (err error) {
	ms, err := readMigrations(fsys)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	const key = `$1::int, hashtext(coalesce(current_schema(), ''))`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+key+`)`, migrationLockClass); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must go even when ctx is done. When the
		// unlock fails the connection is closed, which releases it too.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock(`+key+`)`, migrationLockClass); uerr != nil {
			_ = conn.Hijack().Close(uctx)
			err = errors.Join(err, fmt.Errorf("unlock: %w", uerr))
		}
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer NOT NULL PRIMARY KEY,
		name       text    NOT NULL,
		applied_at bigint  NOT NULL
	)`); err != nil {
		return err
	}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return err
	}
	known := make(map[int]bool, len(ms))
	for _, m := range ms {
		known[m.version] = true
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
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("apply %s: %w", m.name, err)
		}
	}
	return nil
}
