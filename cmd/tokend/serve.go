package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/tokend/tokend/server"
)

// env returns the TOKEND_* environment value of name, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv("TOKEND_" + name); ok {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv("TOKEND_" + name); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func envInt(name string, def int) int {
	if v, ok := os.LookupEnv("TOKEND_" + name); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// serveConfig parses the serve flags over TOKEND_* environment over the
// defaults. Secrets come from the environment only.
func serveConfig(args []string, stderr io.Writer) (server.Config, string, error) {
	def := server.DefaultConfig()
	fs := flag.NewFlagSet("tokend serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := def
	fs.StringVar(&cfg.GRPCListen, "listen", env("LISTEN", def.GRPCListen), "gRPC listen address (TOKEND_LISTEN)")
	fs.StringVar(&cfg.HTTPListen, "http-listen", env("HTTP_LISTEN", def.HTTPListen), "HTTP address for JWKS, /metrics, /healthz, /readyz; empty disables (TOKEND_HTTP_LISTEN)")
	fs.StringVar(&cfg.DataDir, "data-dir", env("DATA_DIR", def.DataDir), "directory of the embedded store and generated KEK (TOKEND_DATA_DIR)")
	fs.StringVar(&cfg.Store, "store", env("STORE", def.Store), "store backend: sqlite, or a postgres:// URL without password (TOKEND_STORE, which may hold one; see docs/postgres.md)")
	fs.StringVar(&cfg.Issuer, "issuer", env("ISSUER", def.Issuer), "iss claim of issued tokens (TOKEND_ISSUER)")
	fs.StringVar(&cfg.KEKFile, "kek-file", env("KEK_FILE", ""), "file holding the base64 key-encryption key (TOKEND_KEK_FILE); TOKEND_KEK holds it inline")
	fs.IntVar(&cfg.MaxTokenSize, "max-token-size", envInt("MAX_TOKEN_SIZE", def.MaxTokenSize), "largest token accepted, in bytes (TOKEND_MAX_TOKEN_SIZE)")
	fs.DurationVar(&cfg.Leeway, "leeway", envDuration("LEEWAY", def.Leeway), "clock skew tolerated on exp/nbf/iat (TOKEND_LEEWAY)")
	fs.DurationVar(&cfg.JWKSMaxAge, "jwks-max-age", envDuration("JWKS_MAX_AGE", def.JWKSMaxAge), "JWKS Cache-Control max-age and default key pre-publication time (TOKEND_JWKS_MAX_AGE)")
	fs.DurationVar(&cfg.KeyCheckInterval, "key-check-interval", envDuration("KEY_CHECK_INTERVAL", def.KeyCheckInterval), "how often key states are written back, scheduled rotations run and other replicas' key changes are picked up (TOKEND_KEY_CHECK_INTERVAL)")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", envDuration("SHUTDOWN_GRACE", def.ShutdownGrace), "time in-flight RPCs get on SIGTERM (TOKEND_SHUTDOWN_GRACE)")
	fs.StringVar(&cfg.ExtAuthzPolicy, "extauthz-policy", env("EXTAUTHZ_POLICY", ""), "YAML/JSON per-route policy of the Envoy ext_authz Check API, see docs/sidecar.md (TOKEND_EXTAUTHZ_POLICY)")
	logLevel := fs.String("log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (TOKEND_LOG_LEVEL)")
	if err := addTransportFlags(fs, &cfg); err != nil {
		return cfg, "", err
	}
	if err := fs.Parse(args); err != nil {
		return cfg, "", err
	}
	if fs.NArg() > 0 {
		return cfg, "", usageError{fmt.Sprintf("serve takes no arguments, got %q", fs.Args())}
	}
	if err := checkStoreFlag(fs); err != nil {
		return cfg, "", err
	}
	cfg.AdminKey = os.Getenv("TOKEND_ADMIN_KEY")
	cfg.KEK = os.Getenv("TOKEND_KEK")
	return cfg, *logLevel, nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, level, err := serveConfig(args, stderr)
	if err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("config: log-level: %q is not debug, info, warn or error", level)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	if key := srv.GeneratedAdminKey(); key != "" {
		// Shown once, on the terminal, never through the logger.
		fmt.Fprintf(stdout, `
tokend: this is a new store, so an admin API key was generated. It is shown
only now; tokend keeps only its hash. Set TOKEND_ADMIN_KEY to choose your own.

    export TOKEND_API_KEY=%s

    tokend app create --name demo --addr %s
    grpcurl -plaintext -H "authorization: Bearer $TOKEND_API_KEY" %s list

`, key, srv.GRPCAddr(), srv.GRPCAddr())
	}
	return srv.Serve(ctx)
}
