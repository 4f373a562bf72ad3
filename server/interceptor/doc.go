// Package interceptor builds tokend's gRPC interceptor chain from
// go-grpc-middleware v2, outermost first: recovery, request id, logging,
// metrics, caller authentication (skipped for health and reflection), and
// rate limiting when configured.
//
// It owns no domain rule: the authentication function, the error mapping
// and the limiter are given to it. It imports neither gen/ nor storage.
package interceptor
