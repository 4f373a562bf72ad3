package server

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/tokend/tokend/server/limit"
	"github.com/tokend/tokend/server/storage/postgres"
	"github.com/tokend/tokend/server/token"
)

// Config is everything a tokend server needs. Fill it from DefaultConfig,
// then flags, TOKEND_* environment and files; secrets (AdminKey, KEK, a
// store DSN with a password) come from the environment or files, never from
// flags.
type Config struct {
	// GRPCListen is the gRPC listen address (host:port; port 0 picks one).
	GRPCListen string
	// HTTPListen is the HTTP listen address for JWKS, metrics and health;
	// empty disables HTTP.
	HTTPListen string
	// DataDir holds the SQLite file and, when no KEK is given, the KEK file.
	DataDir string
	// Store selects the backend: empty or "sqlite" for the embedded file in
	// DataDir, or a postgres:// (postgresql://) URL for PostgreSQL, where
	// several replicas share one database (docs/postgres.md). A password in
	// the URL must come from TOKEND_STORE, never a flag; PGPASSWORD and
	// ~/.pgpass work too.
	Store string
	// Issuer is the "iss" claim of issued tokens.
	Issuer string
	// AdminKey, when set, is the API key of the bootstrap admin caller.
	AdminKey string `json:"-"`
	// KEK is the key-encryption key in base64; KEKFile names a file holding
	// it. With neither, a KEK is generated into DataDir.
	KEK     string `json:"-"`
	KEKFile string
	// MaxTokenSize is the largest token ValidateToken reads, in bytes.
	MaxTokenSize int
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway time.Duration
	// JWKSMaxAge is the Cache-Control max-age of the JWKS and the default
	// time a rotated key is published before it signs. At most
	// MaxJWKSMaxAge: shorter than the shortest rotation overlap.
	JWKSMaxAge time.Duration
	// KeyCheckInterval is how often the key maintainer writes key states
	// back, runs scheduled rotations and picks up key changes made by
	// other replicas.
	KeyCheckInterval time.Duration
	// ShutdownGrace is how long in-flight RPCs may run after a stop signal.
	ShutdownGrace time.Duration
	// ExtAuthzPolicy is an optional YAML or JSON file of the per-route
	// policy of the Envoy ext_authz Check API (docs/sidecar.md); empty
	// means the default policy. It is read and checked at start.
	ExtAuthzPolicy string

	// TLSCert and TLSKey are the PEM files of the server certificate; with
	// them both listeners serve TLS. They are re-read when they change.
	TLSCert, TLSKey string
	// ClientCA is a PEM file of the CAs that sign client certificates
	// (mTLS). Presented client certificates are verified against it; the
	// caller identity is the certificate's URI SAN, else its DNS SAN.
	// Callers without a certificate may still use API keys.
	ClientCA string
	// Insecure allows plain-text listening on a non-loopback address
	// (behind a mesh sidecar that terminates TLS, for example).
	Insecure bool
	// CallersFile is an optional YAML or JSON file of static callers
	// (GitOps), synced into the store at start.
	CallersFile string
	// RateLimitAdmin, RateLimitIssuer and RateLimitValidator are the
	// per-caller token buckets of the methods of each role.
	RateLimitAdmin, RateLimitIssuer, RateLimitValidator limit.Rate
	// ValidationCacheSize is how many valid tokens ValidateToken and
	// ext_authz Check remember, so that a token seen again is answered
	// without verifying its signature (token.WithCache; docs/benchmarks.md);
	// 0 disables the cache. About 300 bytes per entry.
	ValidationCacheSize int
	// Pprof serves net/http/pprof under /debug/pprof/ on the HTTP port.
	// Off by default: profiles show internals and cost CPU while taken.
	Pprof bool
	// CallerReloadInterval is how often callers and API keys are re-read
	// from the store, for changes made by other replicas (this replica's
	// own changes apply at once); 0 disables it.
	CallerReloadInterval time.Duration
	// ResyncInterval is how often a replica on a store with change
	// notifications (PostgreSQL) re-reads apps, keys, callers and the
	// denylist in full, as the safety net for a lost notification
	// (docs/postgres.md). Ignored on SQLite.
	ResyncInterval time.Duration

	// Operations (docs/operations.md; checked by validateOps).

	// AccessLog says which calls get an access log line: "all" (the
	// default; successful health checks at debug), "errors" (successful
	// calls at debug) or "off".
	AccessLog string
	// HealthCheckInterval is how often the store is pinged for the gRPC
	// health status and /readyz.
	HealthCheckInterval time.Duration
	// OTLPEndpoint, when set, turns tracing on: spans go to this OTLP gRPC
	// collector (host:port, or an http:// or https:// URL). OTLPInsecure
	// sends them in plain text to a host:port; TraceSampleRatio is the
	// share of new traces sampled (parent-based).
	OTLPEndpoint     string
	OTLPInsecure     bool
	TraceSampleRatio float64
	// DefaultRPCTimeout is the deadline of a unary call whose caller set
	// none; 0 leaves such calls without one.
	DefaultRPCTimeout time.Duration
	// MaxMessageSize is the largest request the gRPC server reads, in
	// bytes; 0 derives it from MaxTokenSize (twice it, at least 128 KiB).
	MaxMessageSize int
	// MaxConcurrentStreams bounds the concurrent calls of one connection.
	MaxConcurrentStreams uint32
	// KeepaliveTime is how long a connection may be idle before the
	// server pings it; KeepaliveTimeout how long it waits for the answer
	// before closing it. KeepaliveMinTime is the shortest interval between
	// a client's pings the server tolerates (more often: the connection
	// is closed with "too many pings").
	KeepaliveTime, KeepaliveTimeout, KeepaliveMinTime time.Duration
}

// DefaultConfig returns the defaults: loopback ports, ./data, SQLite.
func DefaultConfig() Config {
	return Config{
		GRPCListen:       "127.0.0.1:7443",
		HTTPListen:       "127.0.0.1:7080",
		DataDir:          "data",
		Issuer:           "tokend",
		MaxTokenSize:     token.DefaultMaxTokenSize,
		Leeway:           token.DefaultLeeway,
		JWKSMaxAge:       5 * time.Minute,
		KeyCheckInterval: 30 * time.Second,
		ShutdownGrace:    10 * time.Second,

		RateLimitAdmin:     limit.Rate{PerSecond: 100, Burst: 500},
		RateLimitIssuer:    limit.Rate{PerSecond: 10000, Burst: 20000},
		RateLimitValidator: limit.Rate{}, // unlimited: validation is cheap and read-only

		ValidationCacheSize: DefaultValidationCacheSize,

		CallerReloadInterval: 10 * time.Second,
		ResyncInterval:       time.Minute,

		AccessLog:            "all",
		HealthCheckInterval:  5 * time.Second,
		TraceSampleRatio:     0.1,
		DefaultRPCTimeout:    10 * time.Second,
		MaxConcurrentStreams: 1024,
		KeepaliveTime:        time.Minute,
		KeepaliveTimeout:     20 * time.Second,
		KeepaliveMinTime:     10 * time.Second,
	}
}

// Validate checks the configuration; its errors name the field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.GRPCListen); err != nil {
		bad("listen", "want host:port, got %q", c.GRPCListen)
	}
	if c.HTTPListen != "" {
		if _, _, err := net.SplitHostPort(c.HTTPListen); err != nil {
			bad("http-listen", "want host:port, got %q", c.HTTPListen)
		}
	}
	switch {
	case c.Store == "" || c.Store == "sqlite":
		if c.DataDir == "" {
			bad("data-dir", "required with the embedded store")
		}
	case postgres.IsDSN(c.Store):
		if c.KEK == "" && c.KEKFile == "" {
			bad("kek", "TOKEND_KEK or TOKEND_KEK_FILE is required with a PostgreSQL store: replicas must share one KEK, so none is generated")
		}
	default:
		bad("store", "unsupported store %q (want \"sqlite\" or a postgres:// URL)", redactDSN(c.Store))
	}
	if c.Issuer == "" {
		bad("issuer", "required")
	}
	if c.KEK != "" && c.KEKFile != "" {
		bad("kek", "set TOKEND_KEK or TOKEND_KEK_FILE, not both")
	}
	if c.MaxTokenSize < 512 || c.MaxTokenSize > 1<<20 {
		bad("max-token-size", "must lie between 512 and 1048576 bytes, got %d", c.MaxTokenSize)
	}
	if c.Leeway < 0 || c.Leeway > 5*time.Minute {
		bad("leeway", "must lie between 0 and 5m, got %s", c.Leeway)
	}
	if c.JWKSMaxAge < 0 || c.JWKSMaxAge > MaxJWKSMaxAge {
		bad("jwks-max-age", "must lie between 0 and %s (shorter than the shortest key rotation overlap), got %s", MaxJWKSMaxAge, c.JWKSMaxAge)
	}
	if c.KeyCheckInterval < 10*time.Millisecond || c.KeyCheckInterval > time.Hour {
		bad("key-check-interval", "must lie between 10ms and 1h, got %s", c.KeyCheckInterval)
	}
	if c.ResyncInterval < 10*time.Millisecond || c.ResyncInterval > time.Hour {
		bad("resync-interval", "must lie between 10ms and 1h, got %s", c.ResyncInterval)
	}
	if c.ValidationCacheSize < 0 || c.ValidationCacheSize > MaxValidationCacheSize {
		bad("validation-cache-size", "must lie between 0 and %d, got %d", MaxValidationCacheSize, c.ValidationCacheSize)
	}
	if c.ShutdownGrace < 0 {
		bad("shutdown-grace", "must not be negative")
	}
	if c.AdminKey != "" && len(c.AdminKey) < 16 {
		bad("admin-key", "TOKEND_ADMIN_KEY must be at least 16 characters")
	}
	errs = append(errs, c.validateTransport()...)
	errs = append(errs, c.validateOps()...)
	return errors.Join(errs...)
}

// redactDSN hides a password in a DSN-like string.
func redactDSN(s string) string {
	at := strings.LastIndex(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	return s[:scheme+3] + "REDACTED" + s[at:]
}

// Bounds of the validation cache: the default holds the working set of a
// busy sidecar fleet in about 10 MiB.
const (
	DefaultValidationCacheSize = 10000
	MaxValidationCacheSize     = 10_000_000
)

// MaxJWKSMaxAge bounds the JWKS cache max-age: it must stay below the
// shortest rotation overlap (a replaced key validates for at least the
// shortest max_token_ttl, 10 minutes, after its successor signs), and it is
// how long a revoked key may linger in verifiers' JWKS caches.
const MaxJWKSMaxAge = token.MinTTL
