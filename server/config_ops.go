package server

import (
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/tokend/tokend/server/interceptor"
)

// validateOps checks the operations settings: logs, health, tracing and
// the gRPC limits; its errors name the field.
func (c Config) validateOps() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if _, err := interceptor.ParseAccessLog(c.AccessLog); err != nil {
		bad("access-log", "%v", err)
	}
	if c.HealthCheckInterval < 10*time.Millisecond || c.HealthCheckInterval > 10*time.Minute {
		bad("health-check-interval", "must lie between 10ms and 10m, got %s", c.HealthCheckInterval)
	}
	if math.IsNaN(c.TraceSampleRatio) || c.TraceSampleRatio < 0 || c.TraceSampleRatio > 1 {
		bad("trace-sample-ratio", "must lie between 0 and 1, got %v", c.TraceSampleRatio)
	}
	if c.OTLPInsecure && c.OTLPEndpoint == "" {
		bad("otlp-insecure", "needs otlp-endpoint")
	}
	if c.DefaultRPCTimeout < 0 {
		bad("default-rpc-timeout", "must not be negative (0: none)")
	}
	if c.MaxMessageSize != 0 && (c.MaxMessageSize < 4<<10 || c.MaxMessageSize > 64<<20) {
		bad("max-message-size", "must be 0 (derived from max-token-size) or lie between 4096 and 67108864 bytes, got %d", c.MaxMessageSize)
	}
	if c.MaxMessageSize != 0 && c.MaxMessageSize < c.MaxTokenSize+1024 {
		bad("max-message-size", "%d bytes cannot carry a token of max-token-size %d", c.MaxMessageSize, c.MaxTokenSize)
	}
	if c.MaxConcurrentStreams < 1 {
		bad("max-concurrent-streams", "must be at least 1")
	}
	if c.KeepaliveTime < time.Second {
		bad("keepalive-time", "must be at least 1s, got %s", c.KeepaliveTime)
	}
	if c.KeepaliveTimeout < time.Second {
		bad("keepalive-timeout", "must be at least 1s, got %s", c.KeepaliveTimeout)
	}
	if c.KeepaliveMinTime < 0 {
		bad("keepalive-min-time", "must not be negative")
	}
	return errs
}

// maxMessageSize is the largest request the server reads. The largest
// request is a ValidateToken with a token of MaxTokenSize; the default
// leaves room for the other fields and the extra claims of IssueToken,
// and an ext_authz CheckRequest carries the proxied request's headers
// (Envoy's default limit: 60 KiB).
func (c Config) maxMessageSize() int {
	if c.MaxMessageSize > 0 {
		return c.MaxMessageSize
	}
	return max(c.MaxTokenSize*2, 128<<10)
}

// limitOptions are the gRPC server options of the limits: message size,
// concurrent streams, keepalive parameters and their enforcement.
func (c Config) limitOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(c.maxMessageSize()),
		grpc.MaxConcurrentStreams(c.MaxConcurrentStreams),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: c.KeepaliveTime, Timeout: c.KeepaliveTimeout}),
		// PermitWithoutStream: idle clients (pools, a key watch between
		// events) may keep their connection alive.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: c.KeepaliveMinTime, PermitWithoutStream: true}),
	}
}
