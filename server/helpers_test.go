package server_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/tokend/tokend/server"
)

func newServer(t *testing.T, cfg server.Config) (*server.Server, error) {
	t.Helper()
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	}
	return srv, err
}
