// Package keys owns the app key sets: key pair generation for the allowed
// algorithms, PKCS#8 and JWK encodings, sealing private keys at rest with the
// key-encryption key (go-jose JWE), the in-memory Registry of apps and keys
// that validation and issuing read on every call, rotation, and JWKS.
//
// It depends on storage (records and interfaces) and on token (the
// KeySource and SignerSource it implements); it imports neither gRPC nor gen/.
package keys
