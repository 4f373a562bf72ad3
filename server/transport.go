package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/interceptor"
	"github.com/tokend/tokend/server/limit"
	"github.com/tokend/tokend/server/tokenapi"
)

// validateTransport checks the TLS, mTLS, plain-text and rate limit
// settings; its errors name the field.
func (c Config) validateTransport() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		bad("tls-key", "required with tls-cert")
	case c.TLSCert == "" && c.TLSKey != "":
		bad("tls-cert", "required with tls-key")
	}
	if c.ClientCA != "" && c.TLSCert == "" {
		bad("client-ca", "needs tls-cert and tls-key: mTLS runs over TLS")
	}
	if c.TLSCert == "" && !c.Insecure {
		if c.GRPCListen != "" && !isLoopback(c.GRPCListen) {
			bad("listen", "plain-text gRPC on %q, which is not a loopback address: set tls-cert and tls-key, or insecure (TOKEND_INSECURE) when something else encrypts the traffic", c.GRPCListen)
		}
		if c.HTTPListen != "" && !isLoopback(c.HTTPListen) {
			bad("http-listen", "plain-text HTTP on %q, which is not a loopback address: set tls-cert and tls-key, or insecure (TOKEND_INSECURE)", c.HTTPListen)
		}
	}
	if c.CallerReloadInterval < 0 {
		bad("caller-reload-interval", "must not be negative")
	}
	for _, r := range []struct {
		field string
		v     limit.Rate
	}{
		{"rate-limit-admin", c.RateLimitAdmin},
		{"rate-limit-issuer", c.RateLimitIssuer},
		{"rate-limit-validator", c.RateLimitValidator},
	} {
		if r.v.PerSecond < 0 || math.IsNaN(r.v.PerSecond) || math.IsInf(r.v.PerSecond, 0) || r.v.Burst < 0 {
			bad(r.field, "rate and burst must not be negative")
		}
	}
	return errs
}

// callerGuards fills the caller-related links of the interceptor chain:
// method authorization, audit and the per-caller rate limit.
func (s *Server) callerGuards(o *interceptor.Options) {
	o.Authorize = func(ctx context.Context, fullMethod string) error {
		return tokenapi.ToStatus(ctx, s.log, auth.AuthorizeMethod(ctx, fullMethod))
	}
	o.Audit = tokenapi.AuditInterceptor(s.log)
	lim := limit.New(map[string]limit.Rate{
		auth.RoleAdmin:     s.cfg.RateLimitAdmin,
		auth.RoleIssuer:    s.cfg.RateLimitIssuer,
		auth.RoleValidator: s.cfg.RateLimitValidator,
	}, limit.WithClock(s.now))
	if lim.Enabled() {
		o.Limiter = lim
		o.LimitError = func(ctx context.Context, err error) error { return tokenapi.ToStatus(ctx, s.log, err) }
	}
}

// transportOptions returns the gRPC server options of the transport: TLS
// (and mTLS) credentials when configured. Without TLS it warns when the
// listener is not on loopback (Validate allowed it with Insecure).
func (s *Server) transportOptions() ([]grpc.ServerOption, error) {
	if s.cfg.TLSCert == "" {
		if !isLoopback(s.cfg.GRPCListen) || (s.cfg.HTTPListen != "" && !isLoopback(s.cfg.HTTPListen)) {
			s.log.Warn("serving plain text on a non-loopback address (insecure): credentials and tokens cross the network in clear unless something else encrypts them",
				slog.String("grpc", s.cfg.GRPCListen), slog.String("http", s.cfg.HTTPListen))
		}
		return nil, nil
	}
	files, err := newTLSFiles(s.cfg.TLSCert, s.cfg.TLSKey, s.cfg.ClientCA, s.log)
	if err != nil {
		return nil, err
	}
	s.tlsFiles = files
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(files.serverConfig(nil)))}, nil
}

// wrapHTTPListener serves HTTP over TLS (server certificate only) when
// TLS is configured.
func (s *Server) wrapHTTPListener(lis net.Listener) net.Listener {
	if s.tlsFiles == nil {
		return lis
	}
	cfg := s.tlsFiles.serverConfig([]string{"h2", "http/1.1"})
	get := cfg.GetConfigForClient
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		c, err := get(hello)
		if c != nil {
			c.ClientAuth, c.ClientCAs = tls.NoClientCert, nil // JWKS, metrics and health are not per caller
		}
		return c, err
	}
	return tls.NewListener(lis, cfg)
}

// reloadCallers re-reads callers and API keys periodically (see
// Config.CallerReloadInterval); Serve runs it in the background.
func (s *Server) reloadCallers(ctx context.Context) {
	if s.cfg.CallerReloadInterval > 0 {
		s.dir.Run(ctx, s.cfg.CallerReloadInterval, s.log)
	}
}

// syncCallersFile loads the static callers file, when configured, into the
// store.
func (s *Server) syncCallersFile(ctx context.Context, callers *auth.Service) error {
	if s.cfg.CallersFile == "" {
		return nil
	}
	cf, err := auth.ReadCallersFile(s.cfg.CallersFile)
	if err != nil {
		return fmt.Errorf("config: callers-file: %w", err)
	}
	if err := callers.SyncFile(ctx, cf); err != nil {
		return fmt.Errorf("config: callers-file: %w", err)
	}
	s.log.Info("loaded the callers file", slog.String("path", s.cfg.CallersFile), slog.Int("callers", len(cf.Callers)))
	return nil
}
