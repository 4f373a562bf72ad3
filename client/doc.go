// Package client is the Go client of tokend: typed calls of the
// TokenService, AppService and CallerService over one gRPC connection, an
// API key sent with every call, default deadlines, and errors that
// errors.Is matches against sentinels (ErrAppNotFound, ErrRefreshReused,
// ErrExpired, ...) built from the server's google.rpc.ErrorInfo reason.
// TokenSource caches and renews a token (an oauth2.TokenSource, usable as
// per-RPC credentials); Validator validates tokens locally, kept current
// by WatchKeys (or GetJWKS polling), or remotely.
//
// It imports the generated code (tokendv1) and grpc. Of server/ it imports
// only what its local Validator shares with the server so that both judge
// tokens with the same code: the token rules (server/token) and the
// revocation Denylist (server/refresh, with its record type from
// server/storage); never a store backend, the adapter or the server.
package client
