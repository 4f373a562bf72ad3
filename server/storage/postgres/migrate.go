package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokend/tokend/server/storage/sqlstore"
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

// migrate applies the migrations of fsys that the database lacks, each in
// its own transaction together with its schema_migrations row, while
// holding a session advisory lock: replicas starting together queue on the
// lock, and each finds the migrations the first one applied. The lock is
// released at the end, or by the server if this process dies. It refuses a
// database that has a migration this binary does not know (written by a
// newer tokend).
func migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) (err error) {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	const key = `$1::int, hashtext(coalesce(current_schema(), ''))`
	if _, err := c.Exec(ctx, `SELECT pg_advisory_lock(`+key+`)`, migrationLockClass); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must go even when ctx is done. When the
		// unlock fails the connection is closed, which releases it too.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := c.Exec(uctx, `SELECT pg_advisory_unlock(`+key+`)`, migrationLockClass); uerr != nil {
			_ = c.Hijack().Close(uctx)
			err = errors.Join(err, fmt.Errorf("unlock: %w", uerr))
		}
	}()

	if _, err := c.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer NOT NULL PRIMARY KEY,
		name       text    NOT NULL,
		applied_at bigint  NOT NULL
	)`); err != nil {
		return err
	}
	return queries.Migrate(ctx, conn{c}, fsys, func(run func(sqlstore.DB) error) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error { return run(conn{tx}) })
	})
}
