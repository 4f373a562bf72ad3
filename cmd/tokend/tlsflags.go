package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/limit"
)

// clientTLS holds the admin CLI's TLS flags.
type clientTLS struct {
	enable        *bool
	ca, cert, key *string
	serverName    *string
}

// addClientTLSFlags adds --tls, --tls-ca, --tls-cert, --tls-key and
// --tls-server-name. The client certificate's environment variables are
// TOKEND_CLIENT_CERT and TOKEND_CLIENT_KEY, not TOKEND_TLS_CERT/KEY, which
// name the server's own certificate for "tokend serve": a CLI run next to
// the server must not present the server's certificate as its own.
func addClientTLSFlags(fs *flag.FlagSet) *clientTLS {
	return &clientTLS{
		enable:     fs.Bool("tls", envBool("TLS", false), "connect over TLS, verifying the server with the system roots unless --tls-ca (TOKEND_TLS)"),
		ca:         fs.String("tls-ca", env("TLS_CA", ""), "PEM file of the CA that signs the server certificate; implies --tls (TOKEND_TLS_CA)"),
		cert:       fs.String("tls-cert", env("CLIENT_CERT", ""), "PEM client certificate for mTLS; implies --tls (TOKEND_CLIENT_CERT)"),
		key:        fs.String("tls-key", env("CLIENT_KEY", ""), "PEM private key of --tls-cert (TOKEND_CLIENT_KEY)"),
		serverName: fs.String("tls-server-name", env("TLS_SERVER_NAME", ""), "server name to verify, when --addr is an IP or another name (TOKEND_TLS_SERVER_NAME)"),
	}
}

// hasClientCert reports whether an mTLS client certificate is configured.
func (t *clientTLS) hasClientCert() bool { return *t.cert != "" }

// config returns the TLS config of the connection, or nil for plain text.
func (t *clientTLS) config() (*tls.Config, error) {
	if !*t.enable && *t.ca == "" && *t.cert == "" && *t.key == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: *t.serverName}
	if *t.ca != "" {
		pem, err := os.ReadFile(*t.ca)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca: no PEM certificate in %s", *t.ca)
		}
	}
	switch {
	case *t.cert != "" && *t.key != "":
		cert, err := tls.LoadX509KeyPair(*t.cert, *t.key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case *t.cert != "" || *t.key != "":
		return nil, usageError{"--tls-cert and --tls-key go together"}
	}
	return cfg, nil
}

func envBool(name string, def bool) bool {
	if v, ok := os.LookupEnv("TOKEND_" + name); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return def
}

// rateFlag is a flag.Value of a limit.Rate.
type rateFlag struct{ r *limit.Rate }

func (f rateFlag) String() string {
	if f.r == nil {
		return ""
	}
	return f.r.String()
}

func (f rateFlag) Set(s string) error {
	r, err := limit.ParseRate(s)
	if err != nil {
		return err
	}
	*f.r = r
	return nil
}

// addTransportFlags adds the serve flags of TLS, mTLS, plain text, the
// callers file and the rate limits. The environment is read first; flags
// override it. Its error names a bad TOKEND_RATE_LIMIT_* value.
func addTransportFlags(fs *flag.FlagSet, cfg *server.Config) error {
	fs.StringVar(&cfg.TLSCert, "tls-cert", env("TLS_CERT", ""), "PEM server certificate; with --tls-key, gRPC and HTTP serve TLS (TOKEND_TLS_CERT)")
	fs.StringVar(&cfg.TLSKey, "tls-key", env("TLS_KEY", ""), "PEM private key of --tls-cert (TOKEND_TLS_KEY)")
	fs.StringVar(&cfg.ClientCA, "client-ca", env("CLIENT_CA", ""), "PEM CAs that sign client certificates: enables mTLS callers (TOKEND_CLIENT_CA)")
	fs.BoolVar(&cfg.Insecure, "insecure", envBool("INSECURE", false), "allow plain text on a non-loopback address (TOKEND_INSECURE)")
	fs.StringVar(&cfg.CallersFile, "callers-file", env("CALLERS_FILE", ""), "YAML or JSON file of static callers, synced into the store at start (TOKEND_CALLERS_FILE)")
	fs.DurationVar(&cfg.CallerReloadInterval, "caller-reload-interval", envDuration("CALLER_RELOAD_INTERVAL", cfg.CallerReloadInterval), "how often callers are re-read for changes made by other replicas; 0 disables (TOKEND_CALLER_RELOAD_INTERVAL)")
	var errs []error
	for _, r := range []struct {
		name string
		rate *limit.Rate
	}{
		{"admin", &cfg.RateLimitAdmin},
		{"issuer", &cfg.RateLimitIssuer},
		{"validator", &cfg.RateLimitValidator},
	} {
		envName := "RATE_LIMIT_" + map[string]string{"admin": "ADMIN", "issuer": "ISSUER", "validator": "VALIDATOR"}[r.name]
		if v, ok := os.LookupEnv("TOKEND_" + envName); ok {
			if err := (rateFlag{r.rate}).Set(v); err != nil {
				errs = append(errs, fmt.Errorf("config: rate-limit-%s: TOKEND_%s: %w", r.name, envName, err))
			}
		}
		fs.Var(rateFlag{r.rate}, "rate-limit-"+r.name,
			fmt.Sprintf("per-caller rate of the %s methods: N/s|N/m|N/h[,burst=B] or unlimited (TOKEND_%s; default %s)", r.name, envName, r.rate))
	}
	return errors.Join(errs...)
}
