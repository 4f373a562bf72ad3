package servertest

import (
	"context"
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

	stop func()
}

// Option adjusts the config or server options of Start.
type Option func(*server.Config, *[]server.Option)

// WithDataDir runs the server on dir (to restart on the same data).
func WithDataDir(dir string) Option {
	return func(c *server.Config, _ *[]server.Option) { c.DataDir = dir }
}

// WithClock injects the server clock.
func WithClock(now func() time.Time) Option {
	return func(_ *server.Config, o *[]server.Option) { *o = append(*o, server.WithClock(now)) }
}

// WithConfig edits the config.
func WithConfig(fn func(*server.Config)) Option {
	return func(c *server.Config, _ *[]server.Option) { fn(c) }
}

// Start runs a server on 127.0.0.1 with ephemeral ports until the test ends.
func Start(t testing.TB, opts ...Option) *Harness {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.GRPCListen = "127.0.0.1:0"
	cfg.HTTPListen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminKey = AdminKey
	var sopts []server.Option
	for _, o := range opts {
		o(&cfg, &sopts)
	}
	logs := &SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(context.Background(), cfg, log, sopts...)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	admin, err := client.New(srv.GRPCAddr(), client.WithAPIKey(AdminKey))
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	h := &Harness{Server: srv, Config: cfg, Admin: admin, Logs: logs}
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
	c, err := client.New(h.Addr(), opts...)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
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
