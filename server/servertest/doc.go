// Package servertest starts real tokend servers for tests: a real SQLite
// store in a temp dir, real listeners on 127.0.0.1, and the real Go client
// with the admin key. Tests of every package drive the service through it
// the way users do. CA makes test certificate authorities, server and
// client certificates for TLS and mTLS tests (WithConfig, WithClientTLS).
package servertest
