// Package storage defines what tokend keeps: the records (apps, keys,
// callers, refresh tokens, revocations), the store interfaces split by
// aggregate, and the sentinel errors every backend returns.
//
// Backends live in sub-packages (sqlite, postgres) and must pass the shared
// conformance suite in storagetest. Read-modify-write operations are atomic
// inside the backend. This package imports neither gRPC nor gen/, nor any SQL
// driver.
package storage
