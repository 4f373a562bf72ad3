package keys

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/storage"
)

// ErrKeyNotFound: the app has no key with that id.
var ErrKeyNotFound = errors.New("keys: key not found")

// KeyWriter is the part of the store the Manager writes to.
type KeyWriter interface {
	ListKeys(ctx context.Context, appID string) ([]storage.Key, error)
	UpdateKeys(ctx context.Context, appID string, fn func([]storage.Key) ([]storage.Key, error)) error
}

// Manager creates, rotates, revokes and registers app keys: it generates
// them, seals their private halves with the KEK, stores them with the
// store's atomic UpdateKeys and reloads the Registry after every change.
type Manager struct {
	store    KeyWriter
	kek      *KEK
	registry *Registry
	now      func() time.Time
	log      *slog.Logger
	// leeway is added to a replaced key's verification window.
	leeway time.Duration
	// activationDelay is how long a rotated key is published before it
	// signs, by default: the JWKS cache max-age.
	activationDelay time.Duration
	// onRotate is told of every rotation (nil: nobody).
	onRotate RotationObserver

	reloadMu sync.Mutex // one Reload at a time: the last one read last
}

// ManagerOption configures a Manager.
type ManagerOption func(*Manager)

// WithLogger sets the logger of key events (rotations, revocations); the
// default discards them.
func WithLogger(log *slog.Logger) ManagerOption {
	return func(m *Manager) {
		if log != nil {
			m.log = log
		}
	}
}

// RotationObserver is told of each key rotation this process makes;
// scheduled is true for an automatic rotation (the app's key rotation
// period), false for RotateAppKey. The metrics count them.
type RotationObserver func(appID string, scheduled bool)

// WithRotationObserver sets the observer of key rotations.
func WithRotationObserver(f RotationObserver) ManagerOption {
	return func(m *Manager) { m.onRotate = f }
}

// rotated tells the observer of a rotation.
func (m *Manager) rotated(appID string, scheduled bool) {
	if m.onRotate != nil {
		m.onRotate(appID, scheduled)
	}
}

// NewManager returns a Manager. activationDelay is the default
// pre-publication time of a rotated key (the JWKS max-age).
func NewManager(store KeyWriter, kek *KEK, registry *Registry, now func() time.Time, leeway, activationDelay time.Duration, opts ...ManagerOption) *Manager {
	m := &Manager{
		store: store, kek: kek, registry: registry, now: now, leeway: leeway, activationDelay: activationDelay,
		log: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Registry returns the registry the manager keeps current.
func (m *Manager) Registry() *Registry { return m.registry }

// ActivationDelay is the default time a rotated key is published before it
// signs.
func (m *Manager) ActivationDelay() time.Duration { return m.activationDelay }

// NewKey generates a key for an app, active from activatesAt, and returns
// its record (private key sealed) and its private key as PKCS#8 PEM.
func (m *Manager) NewKey(appID string, alg jose.SignatureAlgorithm, activatesAt time.Time) (storage.Key, string, error) {
	priv, err := Generate(alg)
	if err != nil {
		return storage.Key{}, "", err
	}
	return m.newKey(appID, alg, priv, m.now().UTC(), activatesAt)
}

// newKey makes the record of a generated key created at now.
func (m *Manager) newKey(appID string, alg jose.SignatureAlgorithm, priv crypto.Signer, now, activatesAt time.Time) (storage.Key, string, error) {
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
	// Warning, when not empty, tells the operator that verifiers caching
	// the JWKS may meet the new key before they know it.
	Warning string
}

// Rotate makes a new key for an app. It is published at once and signs
// after delay (nil: the default activation delay, the JWKS max-age; 0: at
// once). The keys it replaces keep validating until the new key activates
// plus the app's maximum token lifetime plus the leeway. alg "" keeps the
// algorithm of the signing key.
func (m *Manager) Rotate(ctx context.Context, app storage.App, algName string, delay *time.Duration) (Rotation, error) {
	d := m.activationDelay
	if delay != nil {
		d = *delay
	}
	if d < 0 {
		return Rotation{}, fmt.Errorf("keys: rotate app %q: negative activation delay", app.ID)
	}
	alg, err := ParseAlgorithm(algName)
	if err != nil {
		return Rotation{}, fmt.Errorf("keys: rotate app %q: %w", app.ID, err)
	}
	if algName == "" {
		current, err := m.store.ListKeys(ctx, app.ID)
		if err != nil {
			return Rotation{}, fmt.Errorf("keys: rotate app %q: %w", app.ID, err)
		}
		alg = signingAlgorithm(current, m.now())
	}
	// Generate before the transaction: an RSA key takes a while, and the
	// transaction holds the store's write lock.
	priv, err := Generate(alg)
	if err != nil {
		return Rotation{}, fmt.Errorf("keys: rotate app %q: %w", app.ID, err)
	}
	var rotation Rotation
	err = m.store.UpdateKeys(ctx, app.ID, func(current []storage.Key) ([]storage.Key, error) {
		now := m.now().UTC()
		want := alg
		if algName == "" {
			want = signingAlgorithm(current, now)
		}
		if want != alg { // the signing key changed meanwhile (rare)
			if priv, err = Generate(want); err != nil {
				return nil, err
			}
			alg = want
		}
		changed, key, pemText, err := m.rotateKeys(app, current, alg, priv, now, d)
		if err != nil {
			return nil, err
		}
		rotation = Rotation{Key: key, PrivateKeyPEM: pemText, Immediate: d == 0}
		return changed, nil
	})
	if err != nil {
		return Rotation{}, fmt.Errorf("keys: rotate app %q: %w", app.ID, err)
	}
	switch { // no warning when the JWKS may not be cached (max-age 0)
	case d >= m.activationDelay:
	case d == 0:
		rotation.Warning = "the new key signs at once: verifiers that cache the JWKS may reject its tokens (unknown kid) until their cache expires"
	default:
		rotation.Warning = fmt.Sprintf("the new key signs in %s, before the JWKS max-age (%s) has passed: verifiers that cache the JWKS may reject its tokens (unknown kid) until their cache expires", d, m.activationDelay)
	}
	m.log.InfoContext(ctx, "app key rotated", slog.String("app_id", app.ID), slog.String("key_id", rotation.Key.ID),
		slog.String("algorithm", string(alg)), slog.Time("activates_at", rotation.Key.ActivatesAt))
	m.rotated(app.ID, false)
	return rotation, m.Reload(ctx, app.ID)
}

// rotateKeys adds a new key made from priv to current (an app's stored
// keys) at now, signing after delay, closes the windows of the keys it
// replaces and settles every state. It returns the records to store, the
// new key and its private key PEM.
func (m *Manager) rotateKeys(app storage.App, current []storage.Key, alg jose.SignatureAlgorithm, priv crypto.Signer, now time.Time, delay time.Duration) ([]storage.Key, KeyView, string, error) {
	key, pemText, err := m.newKey(app.ID, alg, priv, now, now.Add(delay))
	if err != nil {
		return nil, KeyView{}, "", err
	}
	work := append(slices.Clone(current), key)
	replaceBy(app, work, key, m.leeway)
	settle(app, work, now, m.leeway)
	key = work[len(work)-1]
	return changedKeys(current, work), KeyView{Key: key, Effective: key.State}, pemText, nil
}

// Revoke removes a key from verification at once: it is marked revoked and
// retired, its private half erased, and the Registry drops it, so that the
// tokens it signed answer UNKNOWN_KEY. When it was the signing key, a key
// published as next starts signing at once; without one the app has no
// signing key until the next rotation. Revoking a revoked key changes
// nothing. ErrKeyNotFound when the app has no such key.
func (m *Manager) Revoke(ctx context.Context, app storage.App, keyID, reason string) (KeyView, error) {
	var (
		view     KeyView
		promoted string
	)
	err := m.store.UpdateKeys(ctx, app.ID, func(current []storage.Key) ([]storage.Key, error) {
		now := m.now().UTC()
		i := slices.IndexFunc(current, func(k storage.Key) bool { return k.ID == keyID })
		if i < 0 {
			return nil, fmt.Errorf("%w: %q", ErrKeyNotFound, keyID)
		}
		work := slices.Clone(current)
		if work[i].RevokedAt.IsZero() {
			if signerIndex(work, now) == i {
				if p := pendingIndex(work, now); p >= 0 {
					work[p].ActivatesAt = now
					promoted = work[p].ID
				}
			}
			work[i].RevokedAt = now
			work[i].State = storage.KeyRetired
			work[i].SealedPrivateKey = ""
		}
		settle(app, work, now, m.leeway)
		view = KeyView{Key: work[i], Effective: storage.KeyRetired}
		return changedKeys(current, work), nil
	})
	if err != nil {
		return KeyView{}, fmt.Errorf("keys: revoke key %q of app %q: %w", keyID, app.ID, err)
	}
	m.log.WarnContext(ctx, "app key revoked", slog.String("app_id", app.ID), slog.String("key_id", keyID),
		slog.String("reason", reason), slog.String("promoted_key_id", promoted))
	return view, m.Reload(ctx, app.ID)
}

// Register stores an externally generated public key for an app (bring
// your own key): it validates tokens the app's backend signs with the
// private half, which tokend never sees, and never signs. It is active
// until revoked. storage.ErrAlreadyExists when the app already has this
// public key.
func (m *Manager) Register(ctx context.Context, appID string, alg jose.SignatureAlgorithm, pub crypto.PublicKey) (KeyView, error) {
	if err := CheckPublic(alg, pub); err != nil {
		return KeyView{}, fmt.Errorf("keys: register key for app %q: %w", appID, err)
	}
	thumb, err := thumbprint(pub)
	if err != nil {
		return KeyView{}, fmt.Errorf("keys: register key for app %q: %w", appID, err)
	}
	id := NewKeyID()
	jwk, err := PublicJWK(id, alg, pub)
	if err != nil {
		return KeyView{}, fmt.Errorf("keys: register key for app %q: %w", appID, err)
	}
	var key storage.Key
	err = m.store.UpdateKeys(ctx, appID, func(current []storage.Key) ([]storage.Key, error) {
		for _, k := range current {
			if k.State == storage.KeyRetired || !k.RevokedAt.IsZero() {
				continue
			}
			if j, err := ParsePublicJWK(k.PublicJWK); err == nil {
				if t, err := thumbprint(j.Key); err == nil && t == thumb {
					return nil, fmt.Errorf("%w: the app has this public key as key %q", storage.ErrAlreadyExists, k.ID)
				}
			}
		}
		now := m.now().UTC()
		key = storage.Key{
			ID: id, AppID: appID, Algorithm: string(alg), PublicJWK: jwk,
			State: storage.KeyActive, CreatedAt: now, ActivatesAt: now,
		}
		return []storage.Key{key}, nil
	})
	if err != nil {
		return KeyView{}, fmt.Errorf("keys: register key for app %q: %w", appID, err)
	}
	m.log.InfoContext(ctx, "app public key registered", slog.String("app_id", appID), slog.String("key_id", id),
		slog.String("algorithm", string(alg)), slog.String("thumbprint", thumb))
	return KeyView{Key: key, Effective: storage.KeyActive}, m.Reload(ctx, appID)
}

// Reload reads an app's keys from the store into the registry. Reloads are
// serialised, so that the registry ends with the latest read. Keys the
// registry holds already are left alone (no OnChange call: a replica
// whose Sync applied its own change first does not publish it twice).
func (m *Manager) Reload(ctx context.Context, appID string) error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	ks, err := m.store.ListKeys(ctx, appID)
	if err != nil {
		return fmt.Errorf("keys: reload app %q: %w", appID, err)
	}
	if !m.registry.keysDiffer(appID, ks) {
		return nil
	}
	return m.registry.PutKeys(appID, ks)
}
