package auth

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/tokend/tokend/server/storage"
)

// ErrInvalid is what every *FieldError unwraps to.
var ErrInvalid = errors.New("auth: invalid field")

// FieldError names the request field that is invalid.
type FieldError struct{ Field, Msg string }

func (e *FieldError) Error() string { return fmt.Sprintf("auth: %s: %s", e.Field, e.Msg) }

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Store is the part of the store callers need.
type Store interface {
	DirectorySource
	CreateCaller(ctx context.Context, c storage.Caller, key storage.APIKey) error
	PutCaller(ctx context.Context, c storage.Caller, key storage.APIKey) error
	DeleteCaller(ctx context.Context, id string) error
	AddAPIKey(ctx context.Context, key storage.APIKey, graceEnd time.Time) error
}

// Service manages callers and keeps the Directory current.
type Service struct {
	store Store
	dir   *Directory
	now   func() time.Time
}

// NewService returns a Service.
func NewService(store Store, dir *Directory, now func() time.Time) *Service {
	return &Service{store: store, dir: dir, now: now}
}

// Spec describes a new caller.
type Spec struct {
	Name         string
	Roles        []string
	AppIDs       []string
	MTLSIdentity string
}

// Create makes a caller and returns it with its API key (shown once).
func (s *Service) Create(ctx context.Context, spec Spec) (storage.Caller, string, error) {
	if err := checkName(spec.Name); err != nil {
		return storage.Caller{}, "", &FieldError{Field: "name", Msg: err.Error()}
	}
	if len(spec.Roles) == 0 {
		return storage.Caller{}, "", &FieldError{Field: "roles", Msg: "at least one role is required"}
	}
	if bad := ValidRoles(spec.Roles); bad != "" {
		return storage.Caller{}, "", &FieldError{Field: "roles", Msg: fmt.Sprintf("unknown role %q (want admin, issuer or validator)", bad)}
	}
	for _, id := range spec.AppIDs {
		if id == "" {
			return storage.Caller{}, "", &FieldError{Field: "app_ids", Msg: "empty app id"}
		}
	}
	identity, err := NormalizeIdentity(spec.MTLSIdentity)
	if err != nil {
		return storage.Caller{}, "", &FieldError{Field: "mtls_identity", Msg: err.Error()}
	}
	key, hash, err := NewAPIKey()
	if err != nil {
		return storage.Caller{}, "", err
	}
	now := s.now().UTC()
	c := storage.Caller{
		ID: "c_" + hash[:16], Name: spec.Name, Roles: spec.Roles, AppIDs: spec.AppIDs,
		MTLSIdentity: identity, CreatedAt: now,
	}
	if err := s.store.CreateCaller(ctx, c, storage.APIKey{Hash: hash, CallerID: c.ID, CreatedAt: now}); err != nil {
		return storage.Caller{}, "", fmt.Errorf("auth: create caller: %w", err)
	}
	return c, key, s.dir.Reload(ctx)
}

func checkName(name string) error {
	if name == "" || len(name) > 128 || !utf8.ValidString(name) {
		return errors.New("required, at most 128 bytes of UTF-8")
	}
	return nil
}

// List returns every caller.
func (s *Service) List(ctx context.Context) ([]storage.Caller, error) {
	cs, err := s.store.ListCallers(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: list callers: %w", err)
	}
	return cs, nil
}

// Delete removes a caller; its keys stop working at once.
func (s *Service) Delete(ctx context.Context, id string) error {
	if id == "" {
		return &FieldError{Field: "caller_id", Msg: "required"}
	}
	if err := s.store.DeleteCaller(ctx, id); err != nil {
		return fmt.Errorf("auth: delete caller: %w", err)
	}
	return s.dir.Reload(ctx)
}

// Grace periods of RotateKey.
const (
	// DefaultKeyGrace is how long previous keys keep working after a
	// rotation when no grace period is given.
	DefaultKeyGrace = 24 * time.Hour
	// MaxKeyGrace is the longest grace period accepted.
	MaxKeyGrace = 30 * 24 * time.Hour
)

// RotateKey gives caller id a new API key, returned once, and makes its
// previous keys stop working after grace (0: at once). It returns the new
// key and when the previous keys expire. Keys that already expire earlier
// keep their earlier expiry.
func (s *Service) RotateKey(ctx context.Context, id string, grace time.Duration) (string, time.Time, error) {
	if id == "" {
		return "", time.Time{}, &FieldError{Field: "caller_id", Msg: "required"}
	}
	if grace < 0 || grace > MaxKeyGrace {
		return "", time.Time{}, &FieldError{Field: "grace_period", Msg: fmt.Sprintf("must lie between 0 and %s", MaxKeyGrace)}
	}
	key, hash, err := NewAPIKey()
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now().UTC()
	graceEnd := now.Add(grace)
	if err := s.store.AddAPIKey(ctx, storage.APIKey{Hash: hash, CallerID: id, CreatedAt: now}, graceEnd); err != nil {
		return "", time.Time{}, fmt.Errorf("auth: rotate key of caller %q: %w", id, err)
	}
	return key, graceEnd, s.dir.Reload(ctx)
}

// BootstrapAdminID is the id of the admin caller made from TOKEND_ADMIN_KEY.
const BootstrapAdminID = "bootstrap-admin"

// Bootstrap makes sure an admin caller with API key `key` exists (created,
// or its key replaced).
func (s *Service) Bootstrap(ctx context.Context, key string) error {
	if len(key) < 16 {
		return errors.New("auth: the bootstrap admin key must be at least 16 characters")
	}
	now := s.now().UTC()
	c := storage.Caller{ID: BootstrapAdminID, Name: BootstrapAdminID, Roles: []string{RoleAdmin}, CreatedAt: now}
	if err := s.store.PutCaller(ctx, c, storage.APIKey{Hash: HashAPIKey(key), CallerID: c.ID, CreatedAt: now}); err != nil {
		return fmt.Errorf("auth: bootstrap admin: %w", err)
	}
	return s.dir.Reload(ctx)
}
