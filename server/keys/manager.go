package keys

import (
	"context"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/storage"
)

// KeyWriter is the part of the store the Manager writes to.
type KeyWriter interface {
	ListKeys(ctx context.Context, appID string) ([]storage.Key, error)
	UpdateKeys(ctx context.Context, appID string, fn func([]storage.Key) ([]storage.Key, error)) error
}

// Manager creates and rotates app keys: it generates them, seals their
// private halves with the KEK, stores them and updates the Registry.
type Manager struct {
	store    KeyWriter
	kek      *KEK
	registry *Registry
	now      func() time.Time
	// leeway is added to a replaced key's verification window.
	leeway time.Duration
	// activationDelay is how long a rotated key is published before it
	// signs, by default: the JWKS cache max-age.
	activationDelay time.Duration
}

// NewManager returns a Manager. activationDelay is the default
// pre-publication time of a rotated key (the JWKS max-age).
func NewManager(store KeyWriter, kek *KEK, registry *Registry, now func() time.Time, leeway, activationDelay time.Duration) *Manager {
	return &Manager{store: store, kek: kek, registry: registry, now: now, leeway: leeway, activationDelay: activationDelay}
}

// Registry returns the registry the manager keeps current.
func (m *Manager) Registry() *Registry { return m.registry }

// NewKey generates a key for an app, active from activatesAt, and returns
// its record (private key sealed) and its private key as PKCS#8 PEM.
func (m *Manager) NewKey(appID string, alg jose.SignatureAlgorithm, activatesAt time.Time) (storage.Key, string, error) {
	priv, err := Generate(alg)
	if err != nil {
		return storage.Key{}, "", err
	}
	id := NewKeyID()
	jwk, err := PublicJWK(id, alg, priv.Public())
	if err != nil {
		return storage.Key{}, "", err
	}
	sealed, err := m.kek.Seal(appID, id, priv)
	if err != nil {
		return storage.Key{}, "", err
	}
	pemText, err := PrivatePEM(priv)
	if err != nil {
		return storage.Key{}, "", err
	}
	now := m.now().UTC()
	state := storage.KeyActive
	if activatesAt.After(now) {
		state = storage.KeyNext
	}
	return storage.Key{
		ID: id, AppID: appID, Algorithm: string(alg), PublicJWK: jwk, SealedPrivateKey: sealed,
		State: state, CreatedAt: now, ActivatesAt: activatesAt.UTC(),
	}, pemText, nil
}

// Rotation is the result of Rotate.
type Rotation struct {
	Key           KeyView
	PrivateKeyPEM string
	// Immediate is true when the new key signs at once, before verifiers
	// that cache the JWKS may know it.
	Immediate bool
}

// Rotate makes a new key for an app. It is published at once and signs
// after delay (nil: the default activation delay; 0: at once). The key it
// replaces keeps validating until the new key activates plus the app's
// maximum token lifetime plus the leeway. alg "" keeps the current
// algorithm.
func (m *Manager) Rotate(ctx context.Context, app storage.App, algName string, delay *time.Duration) (Rotation, error) {
	now := m.now().UTC()
	d := m.activationDelay
	if delay != nil {
		d = *delay
	}
	if d < 0 {
		return Rotation{}, fmt.Errorf("keys: rotate app %q: negative activation delay", app.ID)
	}
	activatesAt := now.Add(d)
	var rotation Rotation
	err := m.store.UpdateKeys(ctx, app.ID, func(current []storage.Key) ([]storage.Key, error) {
		alg, err := ParseAlgorithm(algName)
		if err != nil {
			return nil, err
		}
		if algName == "" {
			alg = DefaultAlgorithm
			for _, k := range current {
				if k.State == storage.KeyActive && k.RevokedAt.IsZero() {
					alg = jose.SignatureAlgorithm(k.Algorithm)
					break
				}
			}
		}
		key, pemText, err := m.NewKey(app.ID, alg, activatesAt)
		if err != nil {
			return nil, err
		}
		changed := []storage.Key{key}
		until := activatesAt.Add(app.MaxTokenTTL + m.leeway)
		for _, k := range current {
			if (k.State == storage.KeyActive || k.State == storage.KeyNext) && k.RevokedAt.IsZero() &&
				(k.VerifyUntil.IsZero() || k.VerifyUntil.After(until)) {
				k.VerifyUntil = until
				changed = append(changed, k)
			}
		}
		rotation = Rotation{Key: KeyView{Key: key, Effective: key.State}, PrivateKeyPEM: pemText, Immediate: d == 0}
		return changed, nil
	})
	if err != nil {
		return Rotation{}, fmt.Errorf("keys: rotate app %q: %w", app.ID, err)
	}
	if err := m.Reload(ctx, app.ID); err != nil {
		return Rotation{}, err
	}
	return rotation, nil
}

// Reload reads an app's keys from the store into the registry.
func (m *Manager) Reload(ctx context.Context, appID string) error {
	ks, err := m.store.ListKeys(ctx, appID)
	if err != nil {
		return fmt.Errorf("keys: reload app %q: %w", appID, err)
	}
	return m.registry.PutKeys(appID, ks)
}
