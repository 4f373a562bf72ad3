package servertest

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/client"
	"github.com/tokend/tokend/server"
)

// AdminKey is the bootstrap admin API key of test servers.
const AdminKey = "tkd_test-admin-key-0123456789abcdef"

// Harness is a running test server.
type Harness struct {
	Server *server.Server
	Config server.Config
	// Admin is a client authenticated as the bootstrap admin.
	Admin *client.Client
	// Logs holds everything the server logged.
	Logs *SyncBuffer
	// ClientTLS, when set, is the TLS config of Admin and of Client (see
	// WithClientTLS).
	ClientTLS *tls.Config

	stop func()
}

// Option adjusts the config, the server options or the clients of Start.
type Option func(*settings)

type settings struct {
	cfg       server.Config
	sopts     []server.Option
	clientTLS *tls.Config
	logSink   io.Writer // nil: Harness.Logs
}

// WithDataDir runs the server on dir (to restart on the same data).
func WithDataDir(dir string) Option {
	return func(s *settings) { s.cfg.DataDir = dir }
}

// WithClock injects the server clock.
func WithClock(now func() time.Time) Option {
	return func(s *settings) { s.sopts = append(s.sopts, server.WithClock(now)) }
}

// WithServerOption passes options to server.New (server.WithoutWatchKeys,
// ...).
func WithServerOption(opts ...server.Option) Option {
	return func(s *settings) { s.sopts = append(s.sopts, opts...) }
}

// WithDiscardLogs drops what the server logs instead of keeping it in
// Harness.Logs (which then stays empty): for fuzzing and load tests, whose
// millions of calls would fill memory with access log lines.
func WithDiscardLogs() Option {
	return func(s *settings) { s.logSink = io.Discard }
}

// WithConfig edits the config.
func WithConfig(fn func(*server.Config)) Option {
	return func(s *settings) { fn(&s.cfg) }
}

// WithClientTLS makes Admin and Client connect over TLS with cfg; set the
// server's TLS files with WithConfig.
func WithClientTLS(cfg *tls.Config) Option {
	return func(s *settings) { s.clientTLS = cfg }
}

// Start runs a server on 127.0.0.1 with ephemeral ports until the test ends.
func Start(t testing.TB, opts ...Option) *Harness {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.GRPCListen = "127.0.0.1:0"
	cfg.HTTPListen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminKey = AdminKey
	st := settings{cfg: cfg}
	for _, o := range opts {
		o(&st)
	}
	cfg, sopts := st.cfg, st.sopts
	logs := &SyncBuffer{}
	var sink io.Writer = logs
	if st.logSink != nil {
		sink = st.logSink
	}
	log := slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(context.Background(), cfg, log, sopts...)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	h := &Harness{Server: srv, Config: cfg, Logs: logs, ClientTLS: st.clientTLS}
	admin, err := client.New(srv.GRPCAddr(), h.clientOptions(client.WithAPIKey(AdminKey))...)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	h.Admin = admin
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			_ = admin.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(h.stop)
	return h
}

// Stop shuts the server down now (it is also stopped at cleanup).
func (h *Harness) Stop() { h.stop() }

// Addr is the gRPC address.
func (h *Harness) Addr() string { return h.Server.GRPCAddr() }

// Client returns a client with the given API key, closed at cleanup.
func (h *Harness) Client(t testing.TB, apiKey string) *client.Client {
	t.Helper()
	var opts []client.Option
	if apiKey != "" {
		opts = append(opts, client.WithAPIKey(apiKey))
	}
	c, err := client.New(h.Addr(), h.clientOptions(opts...)...)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// clientOptions adds the harness's client TLS config to opts.
func (h *Harness) clientOptions(opts ...client.Option) []client.Option {
	if h.ClientTLS != nil {
		opts = append(opts, client.WithTLS(h.ClientTLS.Clone()))
	}
	return opts
}

// SyncBuffer is a goroutine-safe log sink.
type SyncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

var _ io.Writer = (*SyncBuffer)(nil)

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// ErrorReason returns the ErrorInfo reason of a client error ("" if none).
func ErrorReason(err error) string {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
