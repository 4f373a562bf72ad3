package server

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/postgres"
	"github.com/tokend/tokend/server/storage/sqlite"
)

// openStore opens the backend that cfg.Store names: PostgreSQL for a
// postgres:// URL (migrated at open, under an advisory lock), else the
// SQLite file in the data dir.
func openStore(ctx context.Context, cfg Config) (storage.Store, error) {
	if postgres.IsDSN(cfg.Store) {
		st, err := postgres.Open(ctx, cfg.Store)
		if err != nil {
			// postgres errors never show the DSN's password.
			return nil, fmt.Errorf("server: open PostgreSQL store: %w", err)
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, storeFile))
	if err != nil {
		return nil, fmt.Errorf("server: open store: %w", err)
	}
	return st, nil
}
