package server

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

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
	// DataDir.
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
	// time a rotated key is published before it signs.
	JWKSMaxAge time.Duration
	// ShutdownGrace is how long in-flight RPCs may run after a stop signal.
	ShutdownGrace time.Duration
}

// DefaultConfig returns the defaults: loopback ports, ./data, SQLite.
func DefaultConfig() Config {
	return Config{
		GRPCListen:    "127.0.0.1:7443",
		HTTPListen:    "127.0.0.1:7080",
		DataDir:       "data",
		Issuer:        "tokend",
		MaxTokenSize:  token.DefaultMaxTokenSize,
		Leeway:        token.DefaultLeeway,
		JWKSMaxAge:    5 * time.Minute,
		ShutdownGrace: 10 * time.Second,
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
	default:
		bad("store", "unsupported store %q (want \"sqlite\")", redactDSN(c.Store))
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
	if c.JWKSMaxAge < 0 || c.JWKSMaxAge > 24*time.Hour {
		bad("jwks-max-age", "must lie between 0 and 24h, got %s", c.JWKSMaxAge)
	}
	if c.ShutdownGrace < 0 {
		bad("shutdown-grace", "must not be negative")
	}
	if c.AdminKey != "" && len(c.AdminKey) < 16 {
		bad("admin-key", "TOKEND_ADMIN_KEY must be at least 16 characters")
	}
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
