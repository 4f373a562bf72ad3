// Package storage defines what tokend keeps: the records (apps, keys,
// callers, refresh tokens, revocations), the store interfaces split by
// aggregate, and the sentinel errors every backend returns.
//
// Backends live in sub-packages (sqlite, postgres), which share their SQL
// (record<->row mapping, common statements, migration loop) through
// sqlstore, and must pass the shared conformance suite in storagetest. A backend shared by several processes
// may also implement ChangeFeed, which pushes every committed change to
// each of them (PostgreSQL does, SQLite does not). Read-modify-write operations are atomic
// inside the backend. This package imports neither gRPC nor gen/, nor any SQL
// driver.
package storage
