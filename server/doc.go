// Package server wires tokend together: it opens the store, loads the
// key-encryption key and the in-memory registries, builds the gRPC server
// with its interceptor chain and the HTTP server (JWKS, metrics, health),
// and runs and stops them. It holds no rule of its own: Config, New, Serve
// and Shutdown only.
package server
