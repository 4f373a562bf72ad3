// Package client is the Go client of tokend: typed calls of the
// TokenService, AppService and CallerService over one gRPC connection, an
// API key sent with every call, default deadlines, and errors that
// errors.Is matches against sentinels (ErrAppNotFound, ErrRefreshReused,
// ErrExpired, ...) built from the server's google.rpc.ErrorInfo reason.
//
// It imports the generated code (tokendv1) and grpc; never server/.
package client
