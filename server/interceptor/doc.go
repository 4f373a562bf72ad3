// Package interceptor builds tokend's gRPC interceptor chain from
// go-grpc-middleware v2, outermost first: recovery, request id, default
// deadline, logging (the access line, by AccessLog mode), metrics, caller
// authentication, audit, method authorization and rate limiting; the last
// four are skipped for gRPC health and reflection. LogHandler puts the
// request id on every log line of a call.
//
// It owns no domain rule: the authentication and authorization functions,
// the audit interceptor, the error mapping and the limiter are given to
// it. It imports neither gen/ nor storage.
package interceptor
