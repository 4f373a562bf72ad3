package token

import (
	"crypto"
	"errors"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Registered claim names; extra claims may not use them.
var registeredClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true,
	"nbf": true, "iat": true, "jti": true, "aid": true,
}

// IsRegisteredClaim reports whether name is a claim tokend sets itself.
func IsRegisteredClaim(name string) bool { return registeredClaims[name] }

// Limits of the token rules.
const (
	// MinTTL is the shortest lifetime IssueToken accepts.
	MinTTL = 10 * time.Minute
	// DefaultMaxTTL is an app's longest token lifetime unless configured.
	DefaultMaxTTL = 24 * time.Hour
	// DefaultTTL is an app's default token lifetime unless configured.
	DefaultTTL = time.Hour
	// DefaultMaxTokenSize is the largest token ValidateToken reads.
	DefaultMaxTokenSize = 8 << 10
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// MaxSubjectLen is the longest accepted subject, in bytes.
	MaxSubjectLen = 256
)

// Algorithms is the allow-list of signing algorithms, in preference order.
// It is informational: validation and NewSigningKey use a fixed copy, so
// changing this variable widens nothing.
var Algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256, jose.PS256}

// Request-level errors: the request itself is bad (INVALID_ARGUMENT), as
// opposed to a token that is answered with a Reason.
var (
	ErrTokenEmpty       = errors.New("token: token is empty")
	ErrTokenTooLarge    = errors.New("token: token exceeds the maximum size")
	ErrTokenNotUTF8     = errors.New("token: token is not valid UTF-8")
	ErrInvalidSubject   = errors.New("token: subject must be 1 to 256 bytes of UTF-8")
	ErrTTLOutOfRange    = errors.New("token: ttl out of range")
	ErrInvalidNotBefore = errors.New("token: not_before_delay must be >= 0 and shorter than the ttl")
	ErrClaimReserved    = errors.New("token: extra claim uses a registered claim name")
	ErrInvalidClaims    = errors.New("token: extra claims cannot be encoded")
	ErrInvalidAudience  = errors.New("token: audience must be non-empty UTF-8 strings")
	ErrAppNotFound      = errors.New("token: app not found")
	ErrAppDisabled      = errors.New("token: app is disabled")
	ErrNoSigningKey     = errors.New("token: app has no key able to sign now")
	// ErrMalformed is returned by Inspect for input that is not a compact
	// JWS of JSON objects. Validate answers such tokens with ReasonMalformed.
	ErrMalformed = errors.New("token: token is malformed")
	// ErrInvalidKey is returned by NewSigningKey for a key that does not
	// fit the algorithm or an algorithm off the allow-list.
	ErrInvalidKey = errors.New("token: key does not fit the algorithm")
)

// Reason says why a token is not valid. The zero value means valid.
type Reason int

// Reasons, in the order of the InvalidReason enum of the contract.
const (
	ReasonNone Reason = iota
	ReasonMalformed
	ReasonUnsupportedAlgorithm
	ReasonUnknownKey
	ReasonBadSignature
	ReasonExpired
	ReasonNotYetValid
	ReasonLifetimeTooLong
	ReasonMissingClaim
	ReasonAudienceMismatch
	ReasonUnknownApp
	ReasonAppMismatch
	ReasonAppDisabled
	ReasonRevoked
)

var reasonNames = [...]string{
	"NONE", "MALFORMED", "UNSUPPORTED_ALGORITHM", "UNKNOWN_KEY", "BAD_SIGNATURE",
	"EXPIRED", "NOT_YET_VALID", "LIFETIME_TOO_LONG", "MISSING_CLAIM",
	"AUDIENCE_MISMATCH", "UNKNOWN_APP", "APP_MISMATCH", "APP_DISABLED", "REVOKED",
}

// String returns the reason's name as in the contract (without prefix).
func (r Reason) String() string {
	if r < 0 || int(r) >= len(reasonNames) {
		return "UNKNOWN"
	}
	return reasonNames[r]
}

// Claims are the claims of a token.
type Claims struct {
	Issuer    string
	Subject   string
	AppID     string
	Audience  []string
	IssuedAt  time.Time
	NotBefore time.Time // zero when absent
	ExpiresAt time.Time
	ID        string // jti; empty when absent
	// Extra holds every non-registered claim, decoded from JSON.
	Extra map[string]any
}

// Result is the verdict on a token.
type Result struct {
	// Reason is ReasonNone when the token is valid.
	Reason Reason
	// Detail explains the reason for humans; not stable.
	Detail string
	// Claims are filled when the token is valid (and, best effort, when the
	// signature verified but a later rule failed).
	Claims Claims
	// KeyID is the kid of the key that verified the signature, if any.
	KeyID string
}

// Valid reports whether the token passed every rule.
func (r Result) Valid() bool { return r.Reason == ReasonNone }

// AppPolicy is what validation and issuing need to know of an app.
type AppPolicy struct {
	ID      string
	Enabled bool
	// MaxTokenTTL is the longest token lifetime; zero means DefaultMaxTTL.
	MaxTokenTTL time.Duration
	// DefaultTTL is the lifetime of a token issued without one; zero means
	// DefaultTTL. It is clamped to MaxTokenTTL.
	DefaultTTL time.Duration
}

// VerifyKey is a public key that validates tokens of one app.
type VerifyKey struct {
	ID        string
	AppID     string
	Algorithm jose.SignatureAlgorithm
	// Public is *ecdsa.PublicKey, ed25519.PublicKey or *rsa.PublicKey.
	Public crypto.PublicKey
	// VerifyUntil is when the key stops validating (zero: no end).
	VerifyUntil time.Time
}

// KeySource gives validation the apps and their verification keys. The
// server's key registry and the client's JWKS cache implement it.
type KeySource interface {
	// App returns the policy of an app, false when unknown.
	App(appID string) (AppPolicy, bool)
	// Key returns the verification key with that kid, false when unknown
	// (or no longer validating).
	Key(kid string) (VerifyKey, bool)
	// AppKeys returns the verification keys of an app, for tokens that
	// carry no kid.
	AppKeys(appID string) []VerifyKey
}

// Denylist tells whether an access token was revoked.
type Denylist interface {
	// Revoked reports whether the token with this app, jti and subject,
	// issued at iat, is revoked.
	Revoked(appID, tokenID, subject string, issuedAt time.Time) bool
}

// SigningKey is an app's key able to sign now.
type SigningKey struct {
	ID        string
	Algorithm jose.SignatureAlgorithm
	// Signer signs with the key; its protected header must carry alg
	// Algorithm, kid ID and typ JWT (Issue refuses to hand out a token
	// otherwise). Build it with NewSigningKey.
	Signer jose.Signer
	// VerifyUntil is when the key stops validating (zero: no end); a token
	// signed with it may not expire after that.
	VerifyUntil time.Time

	// direct signs without go-jose's per-call JSON (jws.go); set by
	// NewSigningKey for in-process keys, nil otherwise.
	direct *directSigner
}

// SignerSource gives issuing the apps and their active signing keys.
type SignerSource interface {
	// App returns the policy of an app, false when unknown.
	App(appID string) (AppPolicy, bool)
	// SigningKey returns the app's key that signs at time now.
	SigningKey(appID string, now time.Time) (SigningKey, bool)
}
