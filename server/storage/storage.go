package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them with context; callers test them with
// errors.Is.
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrAlreadyExists: a record with the same unique id or name exists.
	ErrAlreadyExists = errors.New("storage: already exists")
	// ErrConflict: a compare-and-swap lost against a concurrent change.
	ErrConflict = errors.New("storage: conflict")
	// ErrUnavailable: the backend cannot be reached.
	ErrUnavailable = errors.New("storage: unavailable")
	// ErrRefreshUsed: the refresh token was already rotated.
	ErrRefreshUsed = errors.New("storage: refresh token already used")
)

// App is a tenant with its own keys and token policy.
type App struct {
	ID          string
	Name        string
	Description string
	Region      string
	Enabled     bool
	// MaxTokenTTL is the longest accepted token lifetime (exp - iat).
	MaxTokenTTL time.Duration
	// DefaultTokenTTL is the lifetime of issued tokens when none is asked for.
	DefaultTokenTTL time.Duration
	// RefreshIdleTTL is how long an unused refresh token stays valid.
	RefreshIdleTTL time.Duration
	// RefreshFamilyTTL is the absolute lifetime of a refresh family.
	RefreshFamilyTTL time.Duration
	// KeyRotationPeriod is the age at which the active key is rotated
	// automatically; zero turns automatic rotation off.
	KeyRotationPeriod time.Duration
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// KeyState is where a key is in its life.
type KeyState string

// Key states.
const (
	KeyNext       KeyState = "next"
	KeyActive     KeyState = "active"
	KeyVerifyOnly KeyState = "verify-only"
	KeyRetired    KeyState = "retired"
)

// Key is a signing key pair of an app.
type Key struct {
	// ID is the key's "kid", unique across all apps.
	ID        string
	AppID     string
	Algorithm string
	// PublicJWK is the public key as JWK JSON.
	PublicJWK string
	// SealedPrivateKey is the private key sealed with the key-encryption key
	// (a compact JWE). Empty for a public-only (bring-your-own) key.
	SealedPrivateKey string
	State            KeyState
	CreatedAt        time.Time
	// ActivatesAt is when a next key starts signing (zero: not scheduled).
	ActivatesAt time.Time
	// VerifyUntil is when a verify-only key stops validating (zero: open).
	VerifyUntil time.Time
	// RevokedAt is set when the key was revoked in an emergency.
	RevokedAt time.Time
}

// Caller is a machine identity allowed to call tokend.
type Caller struct {
	ID           string
	Name         string
	Roles        []string
	AppIDs       []string // empty: every app
	MTLSIdentity string   // empty: none
	CreatedAt    time.Time
}

// APIKey is the stored form of a caller's API key: only its hash.
type APIKey struct {
	// Hash is the hex SHA-256 of the API key; unique.
	Hash     string
	CallerID string
	// CreatedAt is when the key was made.
	CreatedAt time.Time
	// ExpiresAt is when the key stops working (zero: never).
	ExpiresAt time.Time
}

// RefreshToken is the stored form of a refresh token: only its hash.
type RefreshToken struct {
	// Hash is the hex SHA-256 of the refresh token; unique.
	Hash     string
	FamilyID string
	AppID    string
	Subject  string
	Audience []string
	// Claims holds the extra claims of the family as JSON (may be empty).
	Claims []byte
	// AccessTokenID and AccessTokenExpiresAt describe the access token issued
	// together with this refresh token, so that revoking the family can revoke
	// it too.
	AccessTokenID        string
	AccessTokenExpiresAt time.Time
	CreatedAt            time.Time
	// ExpiresAt is the idle expiry of this refresh token.
	ExpiresAt time.Time
	// FamilyExpiresAt is the absolute expiry of the family.
	FamilyExpiresAt time.Time
	// UsedAt is when it was rotated (zero: never).
	UsedAt time.Time
	// IdempotencyKey is the key given with the rotating request, if any.
	IdempotencyKey string
	// Replay holds the sealed answer of the rotating request, so that a
	// retry with the same idempotency key gets the same answer. Sealed with a
	// key derived from the refresh token itself, which tokend does not keep.
	Replay []byte
	// RevokedAt is set when the family was revoked.
	RevokedAt time.Time
}

// RevocationKind says what a revocation targets.
type RevocationKind string

// Revocation kinds.
const (
	// RevokeTokenID revokes one access token by its jti.
	RevokeTokenID RevocationKind = "token_id"
	// RevokeSubject revokes every access token of a subject issued at or
	// before RevokedAt.
	RevokeSubject RevocationKind = "subject"
)

// Revocation is one entry of the access token denylist.
type Revocation struct {
	AppID     string
	Kind      RevocationKind
	Value     string // the jti or the subject
	RevokedAt time.Time
	// ExpiresAt is when the entry can be swept: every token it covers has
	// expired by then.
	ExpiresAt time.Time
	Reason    string
}

// AppStore keeps apps.
type AppStore interface {
	// CreateApp stores a new app and its first keys in one transaction.
	// ErrAlreadyExists when the id is taken.
	CreateApp(ctx context.Context, app App, keys []Key) error
	// GetApp returns ErrNotFound when there is no such app.
	GetApp(ctx context.Context, id string) (App, error)
	// ListApps returns up to limit apps with ID > afterID, ordered by ID.
	ListApps(ctx context.Context, afterID string, limit int) ([]App, error)
	// UpdateApp atomically applies fn to the current app and stores what it
	// returns (ID and CreatedAt are kept). ErrNotFound when there is no such
	// app; an error from fn aborts the update and is returned as is.
	UpdateApp(ctx context.Context, id string, fn func(App) (App, error)) (App, error)
}

// KeyStore keeps app keys.
type KeyStore interface {
	// ListKeys returns the keys of an app, newest first (by CreatedAt, then ID).
	ListKeys(ctx context.Context, appID string) ([]Key, error)
	// ListAllKeys returns every key of every app.
	ListAllKeys(ctx context.Context) ([]Key, error)
	// UpdateKeys atomically applies fn to the current keys of an app (newest
	// first) and upserts every key fn returns; keys it does not return stay
	// as they are. Concurrent UpdateKeys on one app are serialised, so fn
	// always sees the latest state. ErrNotFound when the app does not exist;
	// an error from fn aborts and is returned as is.
	UpdateKeys(ctx context.Context, appID string, fn func([]Key) ([]Key, error)) error
}

// CallerStore keeps callers and their API key hashes.
type CallerStore interface {
	// CreateCaller stores a caller and, when key.Hash is not empty, its API
	// key. ErrAlreadyExists when the id, the name, the mTLS identity or the
	// key hash is taken.
	CreateCaller(ctx context.Context, c Caller, key APIKey) error
	// PutCaller creates or replaces a caller by ID and replaces all its API
	// keys with key (when key.Hash is not empty). Used for the bootstrap
	// admin.
	PutCaller(ctx context.Context, c Caller, key APIKey) error
	GetCaller(ctx context.Context, id string) (Caller, error)
	// ListCallers returns every caller ordered by name.
	ListCallers(ctx context.Context) ([]Caller, error)
	// DeleteCaller deletes a caller and its API keys. ErrNotFound when absent.
	DeleteCaller(ctx context.Context, id string) error
	// AddAPIKey adds a key to an existing caller and sets ExpiresAt = graceEnd
	// on the caller's other keys that have no earlier expiry (zero graceEnd:
	// leave them). ErrNotFound when the caller does not exist.
	AddAPIKey(ctx context.Context, key APIKey, graceEnd time.Time) error
	// ListAPIKeys returns every stored API key.
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
}

// RefreshStore keeps refresh tokens and their families.
type RefreshStore interface {
	// CreateRefreshToken stores the first token of a new family.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// GetRefreshToken returns ErrNotFound when no token has that hash.
	GetRefreshToken(ctx context.Context, hash string) (RefreshToken, error)
	// RotateRefreshToken atomically marks the token oldHash used (UsedAt =
	// usedAt, IdempotencyKey, Replay) and stores next, only if oldHash is
	// neither used nor revoked. Otherwise it stores nothing and returns the
	// current old record with ErrRefreshUsed (used) or ErrConflict (revoked);
	// ErrNotFound when oldHash is unknown. On success it returns the old
	// record as it is after the call (marked used). A token both used and
	// revoked answers ErrConflict, so that no replay hands out tokens of a
	// revoked family. Exactly one of many concurrent rotations of one token
	// succeeds.
	RotateRefreshToken(ctx context.Context, oldHash string, usedAt time.Time, idempotencyKey string, replay []byte, next RefreshToken) (RefreshToken, error)
	// RevokeFamily marks every token of the family revoked at `at` and
	// returns them (as they were before the call). Idempotent: a second call
	// keeps the first revocation time.
	RevokeFamily(ctx context.Context, familyID string, at time.Time) ([]RefreshToken, error)
	// RevokeSubjectFamilies revokes every family of a subject in an app and
	// returns the tokens revoked now.
	RevokeSubjectFamilies(ctx context.Context, appID, subject string, at time.Time) ([]RefreshToken, error)
	// SweepRefreshTokens deletes tokens whose ExpiresAt and FamilyExpiresAt
	// are both before `now` or whose family is revoked and expired, and
	// returns how many were deleted.
	SweepRefreshTokens(ctx context.Context, now time.Time) (int, error)
}

// RevocationStore keeps the access token denylist.
type RevocationStore interface {
	// AddRevocations stores entries; an entry with the same AppID, Kind and
	// Value is replaced when the new one expires later.
	AddRevocations(ctx context.Context, rs []Revocation) error
	// ListRevocations returns every entry whose ExpiresAt is after `now`.
	ListRevocations(ctx context.Context, now time.Time) ([]Revocation, error)
	// SweepRevocations deletes entries whose ExpiresAt is before `now` and
	// returns how many were deleted.
	SweepRevocations(ctx context.Context, now time.Time) (int, error)
}

// Store is everything tokend keeps.
type Store interface {
	AppStore
	KeyStore
	CallerStore
	RefreshStore
	RevocationStore
	// Ping reports whether the backend is reachable.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}
