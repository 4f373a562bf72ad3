package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// isLoopback reports whether a listen address (host:port) binds only to a
// loopback interface: "localhost" or a loopback IP. An empty host or
// 0.0.0.0 binds every interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tlsFiles serves the server certificate and the client CA pool from
// files, re-reading them when they change on disk (short-lived
// certificates such as SPIFFE SVIDs are renewed in place), at most once per
// checkEvery. A file that fails to load keeps the previous good one and is
// logged.
type tlsFiles struct {
	certFile, keyFile, caFile string
	log                       *slog.Logger
	checkEvery                time.Duration

	mu      sync.Mutex
	checked time.Time
	stamp   string // sizes and modification times of the files
	cert    *tls.Certificate
	pool    *x509.CertPool
}

func newTLSFiles(certFile, keyFile, caFile string, log *slog.Logger) (*tlsFiles, error) {
	f := &tlsFiles{certFile: certFile, keyFile: keyFile, caFile: caFile, log: log, checkEvery: 5 * time.Second}
	stamp, err := f.fileStamp()
	if err != nil {
		return nil, err
	}
	if err := f.load(stamp); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *tlsFiles) fileStamp() (string, error) {
	stamp := ""
	for _, name := range []string{f.certFile, f.keyFile, f.caFile} {
		if name == "" {
			continue
		}
		fi, err := os.Stat(name)
		if err != nil {
			return "", fmt.Errorf("server: tls: %w", err)
		}
		stamp += fmt.Sprintf("%s:%d:%d;", name, fi.Size(), fi.ModTime().UnixNano())
	}
	return stamp, nil
}

// load reads the files; called with f.mu held or before f is shared.
func (f *tlsFiles) load(stamp string) error {
	cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return fmt.Errorf("config: tls-cert/tls-key: %w", err)
	}
	var pool *x509.CertPool
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return fmt.Errorf("config: client-ca: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return errors.New("config: client-ca: no PEM certificate in the file")
		}
	}
	f.cert, f.pool, f.stamp = &cert, pool, stamp
	return nil
}

// refresh reloads the files when they changed.
func (f *tlsFiles) refresh() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Since(f.checked) < f.checkEvery {
		return
	}
	f.checked = time.Now()
	stamp, err := f.fileStamp()
	if err == nil && stamp == f.stamp {
		return
	}
	if err == nil {
		err = f.load(stamp)
	}
	if err != nil {
		f.log.Warn("TLS files changed but could not be loaded; keeping the previous ones", slog.String("error", err.Error()))
		return
	}
	f.log.Info("reloaded TLS certificate files")
}

func (f *tlsFiles) current() (*tls.Certificate, *x509.CertPool) {
	f.refresh()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cert, f.pool
}

// serverConfig is the TLS config of the gRPC listener: with a client CA,
// client certificates are verified when presented (VerifyClientCertIfGiven)
// so that API-key callers connect over TLS without one.
func (f *tlsFiles) serverConfig(nextProtos []string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: nextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, pool := f.current()
			c := &tls.Config{
				MinVersion:   tls.VersionTLS12,
				NextProtos:   nextProtos,
				Certificates: []tls.Certificate{*cert},
				ClientAuth:   tls.NoClientCert,
			}
			if pool != nil {
				c.ClientCAs = pool
				c.ClientAuth = tls.VerifyClientCertIfGiven
			}
			return c, nil
		},
	}
}
