// Package keys owns the app key sets: key pair generation for the allowed
// algorithms, PKCS#8 and JWK encodings, public keys registered from outside
// (bring your own key), sealing private keys at rest with the
// key-encryption key (go-jose JWE) and re-sealing them with a new one
// (Rewrap), the key lifecycle rules (lifecycle.go), the in-memory Registry
// of apps and keys that validation and issuing read on every call, the
// Manager (rotation, revocation, registration, all through the store's
// atomic UpdateKeys), the background Maintainer (state write-back,
// scheduled rotation, reloading other replicas' changes), and JWKS.
//
// It depends on storage (records and interfaces) and on token (the
// KeySource and SignerSource it implements); it imports neither gRPC nor gen/.
package keys
