// Package storagetest is the conformance suite of storage.Store: every
// behaviour documented in package storage, including atomic read-modify-write
// under concurrency (16 concurrent UpdateApp and UpdateKeys, 32 concurrent
// RotateRefreshToken of one token), as subtests that each backend runs with
// Run, each on a fresh store. RunShared holds the tests of several Stores
// on one database, as processes or replicas share it: reopening, opening
// concurrently (migrations applied once), rotations and read-modify-writes
// racing through two Stores, and a revocation racing a rotation.
//
// Where package storage leaves a detail open, the suite fixes the answer so
// that every backend gives the same one:
//
//   - Records compare up to representation: times as instants (a backend
//     may return them in UTC), empty slices as nil. Zero times must read
//     back as the zero time.Time. The suite's times are whole microseconds.
//   - ListApps with limit <= 0 returns nothing; ListKeys of an unknown app
//     returns nothing and no error.
//   - A key or API key with an empty AppID or CallerID belongs to the app or
//     caller it is stored with; one naming another is refused. A key ID of
//     another app is ErrAlreadyExists, also in UpdateKeys.
//   - PutCaller replaces every field, CreatedAt included; with an empty key
//     hash it keeps the caller's keys.
//   - RotateRefreshToken returns the old token as it is after the call (used
//     on success). A token that is both used and revoked is ErrConflict.
//   - RevokeFamily and RevokeSubjectFamilies return the tokens as they were
//     before the call; a second RevokeFamily keeps the first RevokedAt.
//   - SweepRefreshTokens deletes a token when its ExpiresAt and
//     FamilyExpiresAt are both before now, or when its family is revoked and
//     its ExpiresAt is before now. Sweeps and listings compare strictly:
//     an expiry equal to now is neither swept nor listed.
//   - Ping after Close is ErrUnavailable; Close may be called twice.
//
// It imports package storage and the standard library only: never a backend,
// gRPC or gen/.
package storagetest
