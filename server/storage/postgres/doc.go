// Package postgres is tokend's store for several replicas serving as one:
// every record of package storage kept in PostgreSQL, through a pgx
// connection pool (github.com/jackc/pgx/v5/pgxpool).
//
// It owns the schema (embedded migrations, recorded in schema_migrations and
// applied by Open or Migrate under a session advisory lock, so that replicas
// starting together apply each migration once; the loop that applies them
// is sqlstore's) and the atomicity of read-modify-write operations across
// connections and processes. The mapping between records and rows and the
// statements it shares with the SQLite store are package sqlstore's, in
// PostgreSQL's flavor ($N placeholders, FOR UPDATE on the rows a write
// transaction reads to change, string lists as text[]), run on pgx through
// a small adapter (conn.go). The locks:
//
//   - UpdateApp and UpdateKeys lock the app row (SELECT ... FOR UPDATE), so
//     concurrent updates of one app, from any replica, run one after the
//     other and each callback sees the latest state.
//   - RotateRefreshToken locks the old token's row, so of many concurrent
//     rotations exactly one wins; it and the family revocations also take a
//     transaction advisory lock per refresh family, so a revocation never
//     misses a token that a concurrent rotation is adding to the family.
//   - AddAPIKey locks the caller row.
//
// PostgreSQL may abort a transaction to break a deadlock or a serialization
// conflict; such a transaction is run again (at most a few times), so the
// callbacks of UpdateApp and UpdateKeys may run more than once and must
// depend only on what they are given.
//
// Errors map to the storage sentinels: unique violations to
// storage.ErrAlreadyExists, a server that cannot be reached (refused or
// broken connections, shutdown, too many connections, a closed Store) to
// storage.ErrUnavailable. Times are stored as bigint Unix nanoseconds (0 for
// the zero time) and durations as bigint nanoseconds, exactly like the
// SQLite store, so both backends return identical records; string lists are
// text[]; identifiers and names use the "C" collation so that ordering is
// bytewise, as in SQLite and Go.
//
// It also pushes changes to every replica (storage.ChangeFeed, feed.go):
// triggers (migration 0002) send NOTIFY tokend_changes with a small JSON
// payload when apps, keys, callers, API keys or revocations change, and
// Changes LISTENs on a connection of its own, outside the pool,
// reconnecting with backoff and asking for a full resync after each
// (re)connection, since notifications sent while nobody listened are
// lost.
//
// It imports only the standard library, packages storage and sqlstore, and
// pgx: never gRPC, gen/, or tokend's domain packages.
package postgres
