package adversarial

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/sqlite"
)

// StoreFile is the SQLite file of a data dir (as tokend serve names it).
const StoreFile = "tokend.db"

// Seeder is the part of a store that Seed writes to.
type Seeder interface {
	CreateApp(ctx context.Context, app storage.App, keys []storage.Key) error
	AddRevocations(ctx context.Context, rs []storage.Revocation) error
}

// Seed stores the fixture's apps with their trusted keys, as public-only
// active keys (what RegisterAppKey stores), and its revocations.
func Seed(ctx context.Context, st Seeder, f *Fixture) error {
	created := f.Now.Add(-24 * time.Hour).UTC()
	for _, a := range f.Apps {
		app := storage.App{
			ID: a.ID, Name: "adversarial " + a.ID, Description: "adversarial corpus fixture (TEST ONLY)",
			Enabled: a.Enabled, MaxTokenTTL: a.MaxTokenTTL(), DefaultTokenTTL: min(time.Hour, a.MaxTokenTTL()),
			RefreshIdleTTL: 14 * 24 * time.Hour, RefreshFamilyTTL: 90 * 24 * time.Hour,
			CreatedAt: created, UpdatedAt: created,
		}
		var ks []storage.Key
		for _, k := range f.Keys {
			if !k.Trusted || k.AppID != a.ID {
				continue
			}
			alg := jose.SignatureAlgorithm(k.Alg)
			if err := keys.CheckPublic(alg, k.Signer().Public()); err != nil {
				return fmt.Errorf("adversarial: seed key %q: %w", k.ID, err)
			}
			jwk, err := keys.PublicJWK(k.ID, alg, k.Signer().Public())
			if err != nil {
				return fmt.Errorf("adversarial: seed key %q: %w", k.ID, err)
			}
			ks = append(ks, storage.Key{
				ID: k.ID, AppID: a.ID, Algorithm: k.Alg, PublicJWK: jwk,
				State: storage.KeyActive, CreatedAt: created, ActivatesAt: created,
			})
		}
		if err := st.CreateApp(ctx, app, ks); err != nil {
			return fmt.Errorf("adversarial: seed app %q: %w", a.ID, err)
		}
	}
	var rs []storage.Revocation
	for _, r := range f.Revoked {
		a, _ := f.App(r.AppID)
		rs = append(rs, storage.Revocation{
			AppID: r.AppID, Kind: storage.RevokeTokenID, Value: r.TokenID, Reason: "adversarial fixture",
			RevokedAt: f.Now.Add(-time.Hour).UTC(), ExpiresAt: f.Now.Add(a.MaxTokenTTL() + time.Hour).UTC(),
		})
	}
	if len(rs) > 0 {
		if err := st.AddRevocations(ctx, rs); err != nil {
			return fmt.Errorf("adversarial: seed revocations: %w", err)
		}
	}
	return nil
}

// SeedDataDir seeds the SQLite store of a tokend data dir, creating it.
func SeedDataDir(ctx context.Context, dir string, f *Fixture) error {
	st, err := sqlite.Open(ctx, filepath.Join(dir, StoreFile))
	if err != nil {
		return fmt.Errorf("adversarial: %w", err)
	}
	if err := Seed(ctx, st, f); err != nil {
		_ = st.Close()
		return err
	}
	return st.Close()
}
