package app

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/token"
)

// Policy limits and defaults.
const (
	// MaxMaxTokenTTL is the highest max_token_ttl an app may have.
	MaxMaxTokenTTL = 30 * 24 * time.Hour
	// DefaultRefreshIdleTTL is how long an unused refresh token lives.
	DefaultRefreshIdleTTL = 14 * 24 * time.Hour
	// DefaultRefreshFamilyTTL is the absolute lifetime of a refresh family.
	DefaultRefreshFamilyTTL = 90 * 24 * time.Hour
	// MaxRefreshFamilyTTL is the longest refresh family lifetime.
	MaxRefreshFamilyTTL = 365 * 24 * time.Hour
	// MinKeyRotationPeriod and MaxKeyRotationPeriod bound automatic rotation.
	MinKeyRotationPeriod = time.Hour
	MaxKeyRotationPeriod = 365 * 24 * time.Hour

	maxNameLen        = 128
	maxDescriptionLen = 1024
	maxRegionLen      = 64
)

// ErrInvalid is what every *FieldError unwraps to.
var ErrInvalid = errors.New("app: invalid field")

// FieldError names the request field that is invalid.
type FieldError struct {
	Field string
	Msg   string
	// Cause is a more specific sentinel (for example
	// keys.ErrUnsupportedAlgorithm), or nil.
	Cause error
}

func (e *FieldError) Error() string { return fmt.Sprintf("app: %s: %s", e.Field, e.Msg) }

// Unwrap returns ErrInvalid and the cause.
func (e *FieldError) Unwrap() []error {
	if e.Cause != nil {
		return []error{ErrInvalid, e.Cause}
	}
	return []error{ErrInvalid}
}

// Store is the part of the store apps need.
type Store interface {
	CreateApp(ctx context.Context, app storage.App, keys []storage.Key) error
	GetApp(ctx context.Context, id string) (storage.App, error)
	ListApps(ctx context.Context, afterID string, limit int) ([]storage.App, error)
	UpdateApp(ctx context.Context, id string, fn func(storage.App) (storage.App, error)) (storage.App, error)
}

// Service manages apps.
type Service struct {
	store Store
	keys  *keys.Manager
	now   func() time.Time
}

// NewService returns a Service.
func NewService(store Store, km *keys.Manager, now func() time.Time) *Service {
	return &Service{store: store, keys: km, now: now}
}

// Spec describes a new app. Zero durations take the defaults.
type Spec struct {
	Name, Description, Region, Algorithm string
	MaxTokenTTL, DefaultTokenTTL         time.Duration
	RefreshIdleTTL, RefreshFamilyTTL     time.Duration
	// KeyRotationPeriod turns on automatic key rotation (zero: off).
	KeyRotationPeriod time.Duration
}

// Created is a new app with its first key and that key's private half.
type Created struct {
	App           storage.App
	Key           keys.KeyView
	PrivateKeyPEM string
}

// Create validates spec, makes the app and its first key (active at once)
// and stores both in one transaction.
func (s *Service) Create(ctx context.Context, spec Spec) (Created, error) {
	if err := checkText("name", spec.Name, 1, maxNameLen); err != nil {
		return Created{}, err
	}
	if err := checkText("description", spec.Description, 0, maxDescriptionLen); err != nil {
		return Created{}, err
	}
	if err := checkText("region", spec.Region, 0, maxRegionLen); err != nil {
		return Created{}, err
	}
	alg, err := keys.ParseAlgorithm(spec.Algorithm)
	if err != nil {
		return Created{}, &FieldError{Field: "algorithm", Msg: err.Error(), Cause: keys.ErrUnsupportedAlgorithm}
	}
	now := s.now().UTC()
	a := storage.App{
		ID: keys.NewAppID(), Name: spec.Name, Description: spec.Description, Region: spec.Region,
		Enabled: true, MaxTokenTTL: token.DefaultMaxTTL,
		RefreshIdleTTL: DefaultRefreshIdleTTL, RefreshFamilyTTL: DefaultRefreshFamilyTTL,
		CreatedAt: now, UpdatedAt: now,
	}
	if spec.MaxTokenTTL != 0 {
		a.MaxTokenTTL = spec.MaxTokenTTL
	}
	a.DefaultTokenTTL = min(token.DefaultTTL, a.MaxTokenTTL)
	if spec.DefaultTokenTTL != 0 {
		a.DefaultTokenTTL = spec.DefaultTokenTTL
	}
	if spec.RefreshIdleTTL != 0 {
		a.RefreshIdleTTL = spec.RefreshIdleTTL
	}
	if spec.RefreshFamilyTTL != 0 {
		a.RefreshFamilyTTL = spec.RefreshFamilyTTL
	}
	a.KeyRotationPeriod = spec.KeyRotationPeriod
	if err := checkPolicy(a); err != nil {
		return Created{}, err
	}
	key, pemText, err := s.keys.NewKey(a.ID, alg, now)
	if err != nil {
		return Created{}, fmt.Errorf("app: create: %w", err)
	}
	if err := s.store.CreateApp(ctx, a, []storage.Key{key}); err != nil {
		return Created{}, fmt.Errorf("app: create: %w", err)
	}
	s.keys.Registry().PutApp(a)
	if err := s.keys.Registry().PutKeys(a.ID, []storage.Key{key}); err != nil {
		return Created{}, fmt.Errorf("app: create: %w", err)
	}
	return Created{App: a, Key: keys.KeyView{Key: key, Effective: key.State}, PrivateKeyPEM: pemText}, nil
}

// Get returns an app from the store.
func (s *Service) Get(ctx context.Context, id string) (storage.App, error) {
	if id == "" {
		return storage.App{}, &FieldError{Field: "app_id", Msg: "required"}
	}
	a, err := s.store.GetApp(ctx, id)
	if err != nil {
		return storage.App{}, fmt.Errorf("app: get: %w", err)
	}
	return a, nil
}

// List returns up to limit apps after afterID.
func (s *Service) List(ctx context.Context, afterID string, limit int) ([]storage.App, error) {
	apps, err := s.store.ListApps(ctx, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("app: list: %w", err)
	}
	return apps, nil
}

// Update lists the changes to an app; nil fields are kept.
type Update struct {
	Enabled           *bool
	Description       *string
	MaxTokenTTL       *time.Duration
	DefaultTokenTTL   *time.Duration
	RefreshIdleTTL    *time.Duration
	RefreshFamilyTTL  *time.Duration
	KeyRotationPeriod *time.Duration
}

// Update applies u to an app atomically.
func (s *Service) Update(ctx context.Context, id string, u Update) (storage.App, error) {
	if id == "" {
		return storage.App{}, &FieldError{Field: "app_id", Msg: "required"}
	}
	if u.Description != nil {
		if err := checkText("description", *u.Description, 0, maxDescriptionLen); err != nil {
			return storage.App{}, err
		}
	}
	a, err := s.store.UpdateApp(ctx, id, func(a storage.App) (storage.App, error) {
		if u.Enabled != nil {
			a.Enabled = *u.Enabled
		}
		if u.Description != nil {
			a.Description = *u.Description
		}
		if u.MaxTokenTTL != nil {
			a.MaxTokenTTL = *u.MaxTokenTTL
			if u.DefaultTokenTTL == nil && a.DefaultTokenTTL > a.MaxTokenTTL {
				a.DefaultTokenTTL = a.MaxTokenTTL
			}
		}
		if u.DefaultTokenTTL != nil {
			a.DefaultTokenTTL = *u.DefaultTokenTTL
		}
		if u.RefreshIdleTTL != nil {
			a.RefreshIdleTTL = *u.RefreshIdleTTL
		}
		if u.RefreshFamilyTTL != nil {
			a.RefreshFamilyTTL = *u.RefreshFamilyTTL
		}
		if u.KeyRotationPeriod != nil {
			a.KeyRotationPeriod = *u.KeyRotationPeriod
		}
		if err := checkPolicy(a); err != nil {
			return a, err
		}
		a.UpdatedAt = s.now().UTC()
		return a, nil
	})
	if err != nil {
		return storage.App{}, fmt.Errorf("app: update %q: %w", id, err)
	}
	s.keys.Registry().PutApp(a)
	return a, nil
}

// RotateKey makes a new key for an app (see keys.Manager.Rotate).
func (s *Service) RotateKey(ctx context.Context, id, algorithm string, delay *time.Duration) (keys.Rotation, error) {
	if id == "" {
		return keys.Rotation{}, &FieldError{Field: "app_id", Msg: "required"}
	}
	if _, err := keys.ParseAlgorithm(algorithm); err != nil {
		return keys.Rotation{}, &FieldError{Field: "algorithm", Msg: err.Error(), Cause: keys.ErrUnsupportedAlgorithm}
	}
	if delay != nil && *delay < 0 {
		return keys.Rotation{}, &FieldError{Field: "activation_delay", Msg: "must not be negative"}
	}
	a, err := s.store.GetApp(ctx, id)
	if err != nil {
		return keys.Rotation{}, fmt.Errorf("app: rotate key: %w", err)
	}
	return s.keys.Rotate(ctx, a, algorithm, delay)
}

// Keys returns the keys of an app with their state now.
func (s *Service) Keys(ctx context.Context, id string) ([]keys.KeyView, error) {
	if id == "" {
		return nil, &FieldError{Field: "app_id", Msg: "required"}
	}
	views, ok := s.keys.Registry().Keys(id, s.now())
	if !ok {
		return nil, fmt.Errorf("app: keys of %q: %w", id, storage.ErrNotFound)
	}
	return views, nil
}

func checkText(field, v string, minLen, maxLen int) error {
	switch {
	case !utf8.ValidString(v):
		return &FieldError{Field: field, Msg: "must be valid UTF-8"}
	case len(v) < minLen:
		return &FieldError{Field: field, Msg: "required"}
	case len(v) > maxLen:
		return &FieldError{Field: field, Msg: fmt.Sprintf("at most %d bytes", maxLen)}
	}
	return nil
}

func checkPolicy(a storage.App) error {
	if a.MaxTokenTTL < token.MinTTL || a.MaxTokenTTL > MaxMaxTokenTTL {
		return &FieldError{Field: "max_token_ttl", Msg: fmt.Sprintf("must lie between %s and %s", token.MinTTL, MaxMaxTokenTTL)}
	}
	if a.DefaultTokenTTL < token.MinTTL || a.DefaultTokenTTL > a.MaxTokenTTL {
		return &FieldError{Field: "default_token_ttl", Msg: fmt.Sprintf("must lie between %s and max_token_ttl (%s)", token.MinTTL, a.MaxTokenTTL)}
	}
	if a.RefreshFamilyTTL < time.Hour || a.RefreshFamilyTTL > MaxRefreshFamilyTTL {
		return &FieldError{Field: "refresh_family_ttl", Msg: fmt.Sprintf("must lie between 1h and %s", MaxRefreshFamilyTTL)}
	}
	if a.RefreshIdleTTL < token.MinTTL || a.RefreshIdleTTL > a.RefreshFamilyTTL {
		return &FieldError{Field: "refresh_token_idle_ttl", Msg: fmt.Sprintf("must lie between %s and refresh_family_ttl (%s)", token.MinTTL, a.RefreshFamilyTTL)}
	}
	if a.KeyRotationPeriod != 0 && (a.KeyRotationPeriod < MinKeyRotationPeriod || a.KeyRotationPeriod > MaxKeyRotationPeriod) {
		return &FieldError{Field: "key_rotation_period", Msg: fmt.Sprintf("must be 0 (off) or lie between %s and %s", MinKeyRotationPeriod, MaxKeyRotationPeriod)}
	}
	return nil
}
