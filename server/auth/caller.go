package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Roles.
const (
	RoleAdmin     = "admin"
	RoleIssuer    = "issuer"
	RoleValidator = "validator"
)

// Errors of authentication and authorization.
var (
	// ErrCredentialsMissing: the call carries no credential.
	ErrCredentialsMissing = errors.New("auth: no credential")
	// ErrCredentialsInvalid: the credential is not recognised.
	ErrCredentialsInvalid = errors.New("auth: credential not recognised")
	// ErrRoleDenied: the caller's roles do not allow the method.
	ErrRoleDenied = errors.New("auth: role does not allow this method")
	// ErrAppScopeDenied: the caller may not act on the app.
	ErrAppScopeDenied = errors.New("auth: caller may not act on this app")
)

// Credentials a caller can authenticate with.
const (
	CredentialAPIKey = "api-key"
	CredentialMTLS   = "mtls"
)

// Caller is an authenticated caller.
type Caller struct {
	ID     string
	Name   string
	Roles  []string
	AppIDs []string // empty: every app
	// Credential is how the call authenticated: CredentialAPIKey or
	// CredentialMTLS (mTLS, possibly with an API key of the same caller).
	Credential string
}

// HasRole reports whether the caller has role (admin has every role).
func (c Caller) HasRole(role string) bool {
	return slices.Contains(c.Roles, RoleAdmin) || slices.Contains(c.Roles, role)
}

// MayUseApp reports whether the caller's app scope covers appID.
func (c Caller) MayUseApp(appID string) bool {
	return len(c.AppIDs) == 0 || slices.Contains(c.AppIDs, appID)
}

type callerKey struct{}

// WithCaller returns a context carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller of the call, if authenticated.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// RequireApp checks that the context's caller has role and may act on
// appID (an empty appID checks the role only).
func RequireApp(ctx context.Context, role, appID string) error {
	c, ok := CallerFrom(ctx)
	if !ok {
		return ErrCredentialsMissing
	}
	if !c.HasRole(role) {
		return fmt.Errorf("%w: caller %q lacks role %q", ErrRoleDenied, c.Name, role)
	}
	if appID != "" && !c.MayUseApp(appID) {
		return fmt.Errorf("%w: caller %q, app %q", ErrAppScopeDenied, c.Name, appID)
	}
	return nil
}

// APIKeyPrefix starts every API key tokend makes, so that leaked keys are
// easy to recognise in code and logs scanners.
const APIKeyPrefix = "tkd_"

// NewAPIKey returns a new API key (256 random bits) and its stored hash.
func NewAPIKey() (key, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("auth: generate API key: %w", err)
	}
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, HashAPIKey(key), nil
}

// HashAPIKey returns the stored form of an API key: hex SHA-256. The keys
// are high-entropy, so an unsalted fast hash is enough.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// ValidRoles reports the first unknown role of roles, or "" if all are known.
func ValidRoles(roles []string) (bad string) {
	for _, r := range roles {
		if r != RoleAdmin && r != RoleIssuer && r != RoleValidator {
			return r
		}
	}
	return ""
}

// bearer extracts the key of an "authorization: Bearer <key>" value.
func bearer(v string) (string, bool) {
	scheme, key, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	return key, key != ""
}
