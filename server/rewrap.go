package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/storage/postgres"
)

// RewrapReport says what RewrapKEK did.
type RewrapReport struct {
	keys.RewrapResult
	// OldKEKID and NewKEKID are the fingerprints (not secret) of the KEKs.
	OldKEKID, NewKEKID string
	// KEKFile is the data dir's KEK file when RewrapKEK replaced it with the
	// new KEK (the old KEK came from there); empty otherwise, and the
	// server must then be given the new KEK (TOKEND_KEK / TOKEND_KEK_FILE).
	KEKFile string
}

// RewrapKEK re-seals every private key in the store of cfg (the SQLite file
// of cfg.DataDir, or cfg.Store's PostgreSQL) from the KEK the server would use (cfg.KEK, cfg.KEKFile, else the data dir's kek
// file) to newKEK. When the old KEK came from the data dir's kek file, that
// file then holds newKEK. It is an offline maintenance step: no server may
// run on the store meanwhile. Afterwards the server starts with newKEK only.
func RewrapKEK(ctx context.Context, cfg Config, newKEK *keys.KEK) (RewrapReport, error) {
	var rep RewrapReport
	if !postgres.IsDSN(cfg.Store) {
		if cfg.DataDir == "" {
			return rep, errors.New("config: data-dir: required")
		}
		// Never create a store: a mistyped data dir must fail.
		if _, err := os.Stat(filepath.Join(cfg.DataDir, storeFile)); err != nil {
			return rep, fmt.Errorf("server: rewrap: no store in %s: %w", cfg.DataDir, err)
		}
	}
	var (
		oldKEK  *keys.KEK
		err     error
		kekFile string
	)
	switch {
	case cfg.KEK != "" && cfg.KEKFile != "":
		return rep, errors.New("config: kek: set TOKEND_KEK or TOKEND_KEK_FILE, not both")
	case cfg.KEK != "":
		if oldKEK, err = keys.ParseKEK(cfg.KEK); err != nil {
			return rep, fmt.Errorf("config: kek: TOKEND_KEK: %w", err)
		}
	case cfg.KEKFile != "":
		if oldKEK, err = keys.LoadKEKFile(cfg.KEKFile); err != nil {
			return rep, err
		}
	default:
		kekFile = filepath.Join(cfg.DataDir, kekFileName)
		if oldKEK, err = keys.LoadKEKFile(kekFile); err != nil {
			return rep, err
		}
	}
	rep.OldKEKID, rep.NewKEKID = oldKEK.ID(), newKEK.ID()
	st, err := openStore(ctx, cfg)
	if err != nil {
		return rep, err
	}
	defer st.Close()
	if rep.RewrapResult, err = keys.Rewrap(ctx, st, oldKEK, newKEK); err != nil {
		return rep, err
	}
	if kekFile != "" {
		if err := keys.ReplaceKEKFile(kekFile, newKEK); err != nil {
			return rep, fmt.Errorf("server: every key is sealed with the new KEK, but %s still holds the old one (run again, or start with TOKEND_KEK_FILE naming the new KEK): %w", kekFile, err)
		}
		rep.KEKFile = kekFile
	}
	return rep, nil
}

// Files of the data dir.
const (
	storeFile   = "tokend.db" // the embedded SQLite store
	kekFileName = "kek"       // the generated KEK, when none is given
)
