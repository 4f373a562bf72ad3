// Package auth owns callers: the machine identities allowed to call tokend.
// It creates them with an API key shown once (only its SHA-256 is kept) and
// rotates their keys with a grace period; it authenticates a call from its
// bearer API key and/or its verified mTLS client certificate (URI SAN, else
// DNS SAN) against an in-memory Directory kept in step with the store; it
// authorizes by role (the method -> role table of methods.go, checked by
// the interceptor chain) and app scope (RequireApp, checked by the
// handlers); and it syncs the static callers file into the store. The
// authenticated Caller travels in the context (CallerFrom).
//
// It imports neither gen/ nor a storage backend; of gRPC it reads only the
// call's metadata and peer (AuthFunc).
package auth
