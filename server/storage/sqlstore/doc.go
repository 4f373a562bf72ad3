// Package sqlstore is the SQL that tokend's two SQL backends (sqlite and
// postgres) share: the mapping between storage records and table rows, the
// statements that read and write them, written once with ? placeholders and
// rendered for each backend by a Flavor, and the loop that applies embedded
// migrations.
//
// It knows no driver. A backend hands it a DB (an adapter over its
// driver's transaction, connection or pool) and keeps what really differs:
// how transactions run (SQLite's group-committed writer, PostgreSQL's
// retried READ COMMITTED transactions), the locks (BEGIN IMMEDIATE versus row
// and advisory locks), the statements only one of them has (SQLite's
// UPDATE ... RETURNING rotation, PostgreSQL's batches and = ANY), the
// migration files and their locking, and the mapping of driver errors to the
// storage sentinels.
//
// Both schemas store times as integer Unix nanoseconds (0 for the zero
// time) and durations as integer nanoseconds; string lists are encoded by
// the Flavor (a JSON array in SQLite, text[] in PostgreSQL).
//
// It imports the standard library and package storage only: never a
// driver, gRPC, gen/, or tokend's domain packages.
package sqlstore
