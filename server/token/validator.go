package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
)

// Expect is what the caller of Validate requires of a token beyond the
// token rules.
type Expect struct {
	// Audience, when set, must be one of the token's aud values.
	Audience string
	// AppID, when set, must equal the token's aid.
	AppID string
}

// Validator judges access tokens by the token rules (DESIGN.md section 2).
// It is safe for concurrent use.
type Validator struct {
	keys    KeySource
	now     func() time.Time
	leeway  time.Duration
	maxSize int
	deny    Denylist
	cache   *cache // nil: no cache (WithCache, cache.go)
}

// ValidatorOption configures a Validator.
type ValidatorOption func(*Validator)

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) ValidatorOption {
	return func(v *Validator) {
		if now != nil {
			v.now = now
		}
	}
}

// WithLeeway sets the clock skew tolerated on exp, nbf and iat (default
// DefaultLeeway). A negative leeway counts as zero.
func WithLeeway(d time.Duration) ValidatorOption {
	return func(v *Validator) { v.leeway = max(d, 0) }
}

// WithMaxTokenSize sets the largest token, in bytes, that Validate reads
// (default DefaultMaxTokenSize). Zero or less keeps the default.
func WithMaxTokenSize(n int) ValidatorOption {
	return func(v *Validator) {
		if n > 0 {
			v.maxSize = n
		}
	}
}

// WithDenylist makes Validate refuse revoked tokens with ReasonRevoked.
func WithDenylist(d Denylist) ValidatorOption {
	return func(v *Validator) { v.deny = d }
}

// NewValidator returns a Validator that finds apps and keys in keys, which
// must not be nil.
func NewValidator(keys KeySource, opts ...ValidatorOption) *Validator {
	v := &Validator{
		keys:    keys,
		now:     time.Now,
		leeway:  DefaultLeeway,
		maxSize: DefaultMaxTokenSize,
	}
	for _, opt := range opts {
		opt(v)
	}
	return v
}

// Validate judges raw as an access token.
//
// It returns an error only when the request itself is bad: an empty token
// (ErrTokenEmpty), one larger than the size limit (ErrTokenTooLarge) or one
// that is not UTF-8 (ErrTokenNotUTF8); the Result is then not valid either.
// Every other failure is a Result whose Reason says why and whose Detail
// explains it to a human. The checks run in the order of the token rules:
// compact JWS shape and header, app, key, algorithm (from the key, never
// from the header), signature, registered claims with the leeway, aid
// against the key's app, expected audience, app enabled, denylist.
//
// Claims and KeyID are filled once the signature verified, also when a
// later rule refuses the token; they are never filled from an unverified
// token.
func (v *Validator) Validate(raw string, exp Expect) (Result, error) {
	switch {
	case raw == "":
		return refuse(ReasonMalformed, "token is empty"), ErrTokenEmpty
	case len(raw) > v.maxSize:
		return refuse(ReasonMalformed, "token is too large"),
			fmt.Errorf("%w: %d bytes, limit %d", ErrTokenTooLarge, len(raw), v.maxSize)
	case !utf8.ValidString(raw):
		return refuse(ReasonMalformed, "token is not UTF-8"), ErrTokenNotUTF8
	}
	if v.cache != nil {
		if res, ok := v.recall(raw, exp); ok {
			return res, nil
		}
	}
	return v.validate(raw, exp), nil
}

func refuse(r Reason, detail string) Result { return Result{Reason: r, Detail: detail} }

// refused is res with a refusal, keeping its claims and key.
func (r Result) refused(reason Reason, detail string) Result {
	r.Reason, r.Detail = reason, detail
	return r
}

func (v *Validator) validate(raw string, want Expect) Result {
	var gen uint64
	if v.cache != nil {
		gen = v.generation() // before any lookup: a change after it only drops the verdict
	}
	hSeg, pSeg, _, detail := splitCompact(raw)
	if detail != "" {
		return refuse(ReasonMalformed, detail)
	}
	hdr, reason, detail := parseHeader(hSeg)
	if reason != ReasonNone {
		return refuse(reason, detail)
	}
	cs, detail := parseClaims(pSeg)
	if detail != "" {
		return refuse(ReasonMalformed, detail)
	}

	// The app and the key. Nothing of the payload is trusted yet: aid only
	// says where to look.
	aid := cs.aid
	if aid != "" && want.AppID != "" && aid != want.AppID {
		return refuse(ReasonAppMismatch, appMismatch(aid, want.AppID))
	}
	var app AppPolicy
	if aid != "" {
		var ok bool
		if app, ok = v.keys.App(aid); !ok {
			return refuse(ReasonUnknownApp, fmt.Sprintf("no app %q", clip(aid)))
		}
	}
	now := v.now()
	var key VerifyKey
	if hdr.hasKid {
		k, res, ok := v.keyByID(hdr, aid, now)
		if !ok {
			return res
		}
		if !verify(raw, k) {
			return refuse(ReasonBadSignature, fmt.Sprintf("signature does not verify with key %q", k.ID))
		}
		key = k
	} else {
		if aid == "" {
			return refuse(ReasonMissingClaim, "claim aid is missing (and the token has no kid)")
		}
		k, res, ok := v.keyOfApp(raw, hdr, aid, now)
		if !ok {
			return res
		}
		key = k
	}

	// The signature verified: the claims are the key holder's word.
	res := Result{Claims: cs.claims(), KeyID: key.ID}
	switch {
	case aid == "":
		return res.refused(ReasonMissingClaim, "claim aid is missing")
	case cs.sub == "":
		return res.refused(ReasonMissingClaim, "claim sub is missing")
	case !cs.has(hasIat):
		return res.refused(ReasonMissingClaim, "claim iat is missing")
	case !cs.has(hasExp):
		return res.refused(ReasonMissingClaim, "claim exp is missing")
	}
	early, late := now.Add(-v.leeway), now.Add(v.leeway)
	switch {
	case !cs.exp.After(early):
		return res.refused(ReasonExpired, fmt.Sprintf("token expired at %s", cs.exp.Format(time.RFC3339)))
	case cs.has(hasNbf) && cs.nbf.After(cs.iat) && now.Before(cs.nbf):
		// An nbf later than iat is a deliberate delay (not_before_delay):
		// it is enforced to the second, without leeway, or a delay shorter
		// than the leeway would mean nothing.
		return res.refused(ReasonNotYetValid, fmt.Sprintf("token is not valid before %s (delayed nbf)", cs.nbf.Format(time.RFC3339)))
	case cs.has(hasNbf) && cs.nbf.After(late):
		return res.refused(ReasonNotYetValid, fmt.Sprintf("token is not valid before %s (nbf)", cs.nbf.Format(time.RFC3339)))
	case cs.iat.After(late):
		return res.refused(ReasonNotYetValid, fmt.Sprintf("token is issued in the future, at %s (iat)", cs.iat.Format(time.RFC3339)))
	case cs.exp.Before(cs.iat):
		return res.refused(ReasonMalformed, "claim exp is before iat")
	}
	if life, limit := cs.exp.Sub(cs.iat), maxTTL(app); life > limit {
		return res.refused(ReasonLifetimeTooLong, fmt.Sprintf("token lifetime %s exceeds the app's maximum %s", life, limit))
	}
	if aid != key.AppID {
		return res.refused(ReasonUnknownKey, fmt.Sprintf("key %q does not belong to app %q", key.ID, clip(aid)))
	}
	if want.Audience != "" && !slices.Contains(cs.aud, want.Audience) {
		return res.refused(ReasonAudienceMismatch, audienceMismatch(want.Audience))
	}
	if !app.Enabled {
		return res.refused(ReasonAppDisabled, fmt.Sprintf("app %q is disabled", clip(aid)))
	}
	if v.deny != nil && v.deny.Revoked(aid, cs.jti, cs.sub, cs.iat) {
		return res.refused(ReasonRevoked, revokedDetail)
	}
	if v.cache != nil {
		v.remember(raw, res, key, app, &cs, gen, now)
	}
	return res
}

// Details shared with the cache, which must answer as validate does.
const revokedDetail = "token is revoked"

func appMismatch(aid, want string) string {
	return fmt.Sprintf("token is for app %q, not %q", clip(aid), want)
}

func audienceMismatch(want string) string {
	return fmt.Sprintf("token is not for audience %q", want)
}

// keyByID finds the key named by the header's kid and checks that it may
// verify this token. ok false comes with the refusal.
func (v *Validator) keyByID(hdr joseHeader, aid string, now time.Time) (VerifyKey, Result, bool) {
	k, ok := v.keys.Key(hdr.kid)
	switch {
	case !ok:
		return k, refuse(ReasonUnknownKey, fmt.Sprintf("no key %q", clip(hdr.kid))), false
	case aid != "" && k.AppID != aid:
		return k, refuse(ReasonUnknownKey, fmt.Sprintf("key %q does not belong to app %q", clip(hdr.kid), clip(aid))), false
	case k.Algorithm != hdr.alg:
		return k, refuse(ReasonUnsupportedAlgorithm,
			fmt.Sprintf("key %q signs with %s, the token header says %s", k.ID, k.Algorithm, hdr.alg)), false
	case !validating(k, now):
		return k, refuse(ReasonUnknownKey, fmt.Sprintf("key %q no longer validates", k.ID)), false
	case !usable(k):
		return k, refuse(ReasonUnknownKey, fmt.Sprintf("key %q has no usable %s public key", k.ID, k.Algorithm)), false
	}
	return k, Result{}, true
}

// keyOfApp verifies a token without kid with each key of the app that has
// the header's algorithm. Keys of the app under other algorithms make an
// algorithm mismatch; no key at all is an unknown key.
func (v *Validator) keyOfApp(raw string, hdr joseHeader, aid string, now time.Time) (VerifyKey, Result, bool) {
	tried, otherAlg := 0, false
	for _, k := range v.keys.AppKeys(aid) {
		if k.AppID != aid || !validating(k, now) || !usable(k) {
			continue
		}
		if k.Algorithm != hdr.alg {
			otherAlg = true
			continue
		}
		tried++
		if verify(raw, k) {
			return k, Result{}, true
		}
	}
	switch {
	case tried > 0:
		return VerifyKey{}, refuse(ReasonBadSignature,
			fmt.Sprintf("signature does not verify with any %s key of app %q", hdr.alg, clip(aid))), false
	case otherAlg:
		return VerifyKey{}, refuse(ReasonUnsupportedAlgorithm,
			fmt.Sprintf("app %q has no %s key", clip(aid), hdr.alg)), false
	}
	return VerifyKey{}, refuse(ReasonUnknownKey, fmt.Sprintf("app %q has no key that validates", clip(aid))), false
}

// validating reports whether k still validates at now.
func validating(k VerifyKey, now time.Time) bool {
	return k.VerifyUntil.IsZero() || now.Before(k.VerifyUntil)
}

// usable reports whether k's public key fits its algorithm. It keeps any
// other key type (an HMAC []byte above all) away from go-jose.
func usable(k VerifyKey) bool {
	switch pub := k.Public.(type) {
	case *ecdsa.PublicKey:
		return k.Algorithm == jose.ES256 && pub != nil && pub.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return k.Algorithm == jose.EdDSA && len(pub) == ed25519.PublicKeySize
	case *rsa.PublicKey:
		return (k.Algorithm == jose.RS256 || k.Algorithm == jose.PS256) && pub != nil && pub.N != nil
	}
	return false
}

// maxTTL is the app's longest token lifetime.
func maxTTL(app AppPolicy) time.Duration {
	if app.MaxTokenTTL > 0 {
		return app.MaxTokenTTL
	}
	return DefaultMaxTTL
}

// defaultTTL is the app's lifetime for a request without one, clamped to
// its maximum.
func defaultTTL(app AppPolicy) time.Duration {
	d := app.DefaultTTL
	if d <= 0 {
		d = DefaultTTL
	}
	return min(d, maxTTL(app))
}
