// Package auth owns callers: the machine identities allowed to call tokend.
// It creates them with an API key shown once (only its SHA-256 is kept),
// authenticates a call from its bearer API key against an in-memory
// Directory kept in step with the store, and authorizes it by role and app
// scope. The authenticated Caller travels in the context (CallerFrom).
//
// It imports neither gen/ nor a storage backend; it reads gRPC metadata only
// through the small Authenticate entry point used by the interceptor chain.
package auth
