// Package refresh owns refresh tokens and revocation: issuing a refresh
// token with an access token (starting a family), rotating it on every use
// with reuse detection and an idempotency window for lost answers, revoking
// access tokens, refresh families and subjects, the in-memory Denylist that
// validation consults on every call, and the Sweeper that forgets what has
// expired.
//
// It depends on storage (records and interfaces) and token (issuing and the
// Denylist interface it implements); it imports neither gRPC nor gen/.
// Refresh tokens are never stored nor logged: only their SHA-256 hash is.
package refresh
