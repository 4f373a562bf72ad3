// Package limit owns per-caller rate limits: a token bucket
// (golang.org/x/time/rate) per caller and per role class of the method
// called, with the rate configured per role. It implements the Limiter of
// go-grpc-middleware's ratelimit interceptor; the interceptor chain turns
// its *LimitedError into RESOURCE_EXHAUSTED with a retry delay.
//
// It reads the authenticated caller and the method's role from package
// auth; it imports neither gen/ nor storage.
package limit
