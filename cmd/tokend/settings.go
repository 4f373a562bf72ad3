package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/limit"
)

// serveOptions is everything "tokend serve" is configured with: the
// server's Config and the settings of the binary itself (logs).
type serveOptions struct {
	cfg       server.Config
	logLevel  string
	logFormat string
	// gcHeapFloor is the heap size below which the garbage collector
	// does not start a cycle (package gcfloor); 0 leaves GOGC alone.
	gcHeapFloor uint64
}

func defaultServeOptions() serveOptions {
	return serveOptions{cfg: server.DefaultConfig(), logLevel: "info", logFormat: "json", gcHeapFloor: 32 << 20}
}

// setting is the one definition of a configuration setting. Its name is
// the flag (--name), the YAML key of the config file (name with "_" for
// "-") and the environment variable (TOKEND_ and the name in upper case
// with "_"), so the three never drift apart.
type setting struct {
	name string
	help string
	// secret settings (keys, passwords) are never taken from a flag, which
	// would show in ps, and are redacted by "tokend config print".
	secret bool
	// field binds the setting to its field of o.
	field func(o *serveOptions) value
}

// value is a field as text: flag.Value.
type value interface {
	String() string
	Set(string) error
}

func (s setting) env() string {
	return "TOKEND_" + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_"))
}

func (s setting) yamlKey() string { return strings.ReplaceAll(s.name, "-", "_") }

// settings are all the settings of "tokend serve", in the order of
// "tokend serve -h", "tokend config print" and docs/operations.md. A new
// server.Config field gets its line here (TestEveryConfigFieldHasASetting
// fails otherwise); nothing else is needed for its flag, environment
// variable and config file key.
var settings = []setting{
	// Listeners and store.
	{name: "listen", help: "gRPC listen address (host:port)",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.GRPCListen) }},
	{name: "http-listen", help: "HTTP address of the JWKS, /metrics, /healthz and /readyz; empty disables HTTP",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.HTTPListen) }},
	{name: "data-dir", help: "directory of the embedded SQLite store and of a generated KEK",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.DataDir) }},
	{name: "store", help: "store backend: sqlite, or a postgres:// URL (docs/postgres.md); a URL with a password only from TOKEND_STORE or the config file",
		field: func(o *serveOptions) value { return (*dsnValue)(&o.cfg.Store) }},
	{name: "issuer", help: "iss claim of issued tokens",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.Issuer) }},

	// Secrets and keys.
	{name: "admin-key", secret: true, help: "API key of the bootstrap admin caller (at least 16 characters)",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.AdminKey) }},
	{name: "kek", secret: true, help: "key-encryption key of the private keys at rest: 32 bytes in base64",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.KEK) }},
	{name: "kek-file", help: "file holding the base64 key-encryption key (instead of kek)",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.KEKFile) }},

	// Tokens and keys.
	{name: "max-token-size", help: "largest token ValidateToken reads, in bytes",
		field: func(o *serveOptions) value { return (*intValue)(&o.cfg.MaxTokenSize) }},
	{name: "leeway", help: "clock skew tolerated on exp, nbf and iat",
		field: func(o *serveOptions) value { return (*durationValue)(&o.cfg.Leeway) }},
	{name: "jwks-max-age", help: "JWKS Cache-Control max-age and default pre-publication time of a rotated key",
		field: func(o *serveOptions) value { return (*durationValue)(&o.cfg.JWKSMaxAge) }},
	{name: "key-check-interval", help: "how often key states are written back, scheduled rotations run and other replicas' key changes are picked up",
		field: func(o *serveOptions) value { return (*durationValue)(&o.cfg.KeyCheckInterval) }},
	{name: "validation-cache-size", help: "valid tokens remembered by ValidateToken and ext_authz Check, ~300 bytes each; 0 disables",
		field: func(o *serveOptions) value { return (*intValue)(&o.cfg.ValidationCacheSize) }},
	{name: "extauthz-policy", help: "YAML/JSON per-route policy of the Envoy ext_authz Check API (docs/sidecar.md)",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.ExtAuthzPolicy) }},

	// Transport security and callers.
	{name: "tls-cert", help: "PEM server certificate; with tls-key, gRPC and HTTP serve TLS",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.TLSCert) }},
	{name: "tls-key", help: "PEM private key of tls-cert",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.TLSKey) }},
	{name: "client-ca", help: "PEM CAs that sign client certificates: enables mTLS callers",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.ClientCA) }},
	{name: "insecure", help: "allow plain text on a non-loopback address (something else encrypts the traffic)",
		field: func(o *serveOptions) value { return (*boolValue)(&o.cfg.Insecure) }},
	{name: "callers-file", help: "YAML or JSON file of static callers, synced into the store at start",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.CallersFile) }},
	{name: "caller-reload-interval", help: "how often callers are re-read for changes made by other replicas; 0 disables",
		field: func(o *serveOptions) value { return (*durationValue)(&o.cfg.CallerReloadInterval) }},
	{name: "resync-interval", help: "how often a replica on PostgreSQL re-reads apps, keys, callers and revocations in full, in case a change notification was lost",
		field: func(o *serveOptions) value { return (*durationValue)(&o.cfg.ResyncInterval) }},
	{name: "rate-limit-admin", help: "per-caller rate of the admin methods: N/s|N/m|N/h[,burst=B] or unlimited",
		field: func(o *serveOptions) value { return (*rateValue)(&o.cfg.RateLimitAdmin) }},
	{name: "rate-limit-issuer", help: "per-caller rate of the issuer methods",
		field: func(o *serveOptions) value { return (*rateValue)(&o.cfg.RateLimitIssuer) }},
	{name: "rate-limit-validator", help: "per-caller rate of the validator methods",
		field: func(o *serveOptions) value { return (*rateValue)(&o.cfg.RateLimitValidator) }},

	// Limits.
	{name: "max-message-size", help: "largest gRPC request read, in bytes; 0 derives it from max-token-size (twice it, at least 128 KiB)",
		field: func(o *serveOptions) value { return (*intValue)(&o.cfg.MaxMessageSize) }},
	{name: "max-concurrent-streams", help: "concurrent calls per client connection",
		field: func(o *serveOptions) value { return (*uint32Value)(&o.cfg.MaxConcurrentStreams) }},
	{name: "keepalive-time", help: "idle time after which the server pings a connection",
		field: func(o *serveOptions) value { return (*durationValue)(&o.cfg.KeepaliveTime) }},
	{name: "keepalive-timeout", help: "time a keepalive ping waits for its answer before the connection is closed",
		field: func(o *serveOptions) value { return (*durationValue)(&o.cfg.KeepaliveTimeout) }},
	{name: "keepalive-min-time", help: "shortest interval between client pings tolerated (more often: the connection is closed)",
		field: func(o *serveOptions) value { return (*durationValue)(&o.cfg.KeepaliveMinTime) }},
	{name: "default-rpc-timeout", help: "deadline of a unary call whose caller set none; 0 for none",
		field: func(o *serveOptions) value { return (*durationValue)(&o.cfg.DefaultRPCTimeout) }},
	{name: "shutdown-grace", help: "time in-flight calls get to finish after SIGTERM or SIGINT",
		field: func(o *serveOptions) value { return (*durationValue)(&o.cfg.ShutdownGrace) }},

	// Observability.
	{name: "log-level", help: "debug, info, warn or error",
		field: func(o *serveOptions) value { return (*stringValue)(&o.logLevel) }},
	{name: "log-format", help: "json or text",
		field: func(o *serveOptions) value { return (*stringValue)(&o.logFormat) }},
	{name: "access-log", help: "access lines: all (successful health checks at debug), errors (successful calls at debug) or off",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.AccessLog) }},
	{name: "health-check-interval", help: "how often the store is pinged for the gRPC health status",
		field: func(o *serveOptions) value { return (*durationValue)(&o.cfg.HealthCheckInterval) }},
	{name: "otlp-endpoint", help: "OTLP gRPC collector of traces (host:port, http:// or https:// URL); empty: tracing off",
		field: func(o *serveOptions) value { return (*stringValue)(&o.cfg.OTLPEndpoint) }},
	{name: "otlp-insecure", help: "send spans in plain text to a host:port otlp-endpoint",
		field: func(o *serveOptions) value { return (*boolValue)(&o.cfg.OTLPInsecure) }},
	{name: "trace-sample-ratio", help: "share of new traces sampled, 0 to 1 (calls within a sampled trace always are)",
		field: func(o *serveOptions) value { return (*floatValue)(&o.cfg.TraceSampleRatio) }},
	{name: "pprof", help: "serve net/http/pprof under /debug/pprof/ on the HTTP port",
		field: func(o *serveOptions) value { return (*boolValue)(&o.cfg.Pprof) }},

	// Runtime.
	{name: "gc-heap-floor", help: "heap size the garbage collector lets the heap reach before a cycle (like 32MiB); 0, or GOGC set, leaves GOGC alone",
		field: func(o *serveOptions) value { return (*bytesValue)(&o.gcHeapFloor) }},
}

// The field types as flag values.
type (
	stringValue   string
	intValue      int
	uint32Value   uint32
	floatValue    float64
	boolValue     bool
	durationValue time.Duration
	// bytesValue is a size in bytes: 0, 1048576, 512KiB, 32MiB, 1GiB.
	bytesValue uint64
	rateValue  limit.Rate
	// dsnValue is a store DSN: shown with its password redacted.
	dsnValue string
)

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

func (v *dsnValue) String() string     { return string(*v) }
func (v *dsnValue) Set(s string) error { *v = dsnValue(s); return nil }

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not an integer", s)
	}
	*v = intValue(n)
	return nil
}

func (v *uint32Value) String() string { return strconv.FormatUint(uint64(*v), 10) }
func (v *uint32Value) Set(s string) error {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return fmt.Errorf("%q is not an integer between 0 and 4294967295", s)
	}
	*v = uint32Value(n)
	return nil
}

func (v *floatValue) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	*v = floatValue(f)
	return nil
}

func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v = boolValue(b)
	return nil
}

func (v *bytesValue) String() string {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n := uint64(*v); n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatUint(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatUint(uint64(*v), 10)
}

func (v *bytesValue) Set(s string) error {
	num, shift := strings.TrimSpace(s), uint(0)
	for suffix, sh := range map[string]uint{"KiB": 10, "MiB": 20, "GiB": 30} {
		if n, ok := strings.CutSuffix(num, suffix); ok {
			num, shift = strings.TrimSpace(n), sh
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n > (1<<40)>>shift {
		return fmt.Errorf("%q is not a size (like 0, 512KiB, 32MiB, 1GiB; at most 1TiB)", s)
	}
	*v = bytesValue(n << shift)
	return nil
}

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a duration (like 30s, 5m, 1h)", s)
	}
	*v = durationValue(d)
	return nil
}

func (v *rateValue) String() string { return limit.Rate(*v).String() }
func (v *rateValue) Set(s string) error {
	r, err := limit.ParseRate(s)
	if err != nil {
		return err
	}
	*v = rateValue(r)
	return nil
}
