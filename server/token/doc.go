// Package token owns the token rules: issuing access tokens (claims,
// lifetime policy, signing with go-jose) and validating them (size, compact
// JWS parsing, key and algorithm choice, signature, registered claims,
// audience, app state, revocation) with a stable Reason for every refusal.
//
// It declares the small interfaces it needs (KeySource, SignerSource,
// Denylist) and imports neither gRPC, gen/, nor any storage backend, so the
// same rules serve the server and the Go client's local validator.
package token
