package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"

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

// migrate applies the migrations of fsys that db does not have yet, all in
// one IMMEDIATE transaction, so that two processes opening a new file at once
// do not both apply them. It refuses a database that has a migration this
// binary does not know (written by a newer tokend).
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	return inTx(ctx, db, func(sqlTx *sql.Tx) error {
		tx := &wtx{tx: sqlTx} // no prepared statements
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		) STRICT`); err != nil {
			return err
		}
		return queries.Migrate(ctx, tx, fsys, func(run func(sqlstore.DB) error) error { return run(tx) })
	})
}
