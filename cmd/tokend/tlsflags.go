package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strconv"
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
