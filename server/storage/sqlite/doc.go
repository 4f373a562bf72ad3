// Package sqlite is tokend's embedded default store: every record of package
// storage kept in one SQLite file, through the pure-Go modernc.org/sqlite
// driver (no cgo).
//
// It owns the schema (embedded migrations, applied at Open and recorded in
// schema_migrations) and the atomicity of read-modify-write operations; the
// mapping between records and rows and the statements it shares with the
// PostgreSQL store are package sqlstore's, in SQLite's flavor (?
// placeholders, string lists as JSON arrays), run on this package's
// transactions and prepared statements (stmts.go). Read-modify-write
// operations run in BEGIN IMMEDIATE
// transactions on a single write connection, so they are serialised within
// the process by the connection and across processes sharing the file by
// SQLite's write lock. Writes are group-committed (writer.go): one writer
// goroutine runs the writes waiting at the same time in one transaction,
// each in its own SAVEPOINT, and commits them with one fsync before
// answering any of them. Reads use a separate pool of read-only
// connections, which WAL mode lets run alongside a writer.
//
// What is SQLite's own stays here: the connections and pragmas, the group
// commit, the prepared statements, the one-statement rotation (UPDATE ...
// RETURNING), BEGIN IMMEDIATE migrations and the mapping of SQLite errors
// to the storage sentinels.
//
// It imports only the standard library, packages storage and sqlstore, and
// the driver: never gRPC, gen/, or tokend's domain packages.
package sqlite
