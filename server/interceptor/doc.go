// Package interceptor builds tokend's gRPC interceptor chain from
// go-grpc-middleware v2, outermost first: recovery, request id, logging,
// metrics, caller authentication, audit, method authorization and rate
// limiting; the last four are skipped for gRPC health and reflection.
//
// It owns no domain rule: the authentication and authorization functions,
// the audit interceptor, the error mapping and the limiter are given to
// it. It imports neither gen/ nor storage.
package interceptor
