package token

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// IssueRequest asks for an access token.
type IssueRequest struct {
	AppID   string
	Subject string
	// TTL is the token lifetime; zero means the app's default TTL.
	TTL time.Duration
	// NotBeforeDelay is how long after issue the token becomes usable.
	// Sub-second delays round up to the next second.
	NotBeforeDelay time.Duration
	// Audience becomes aud: a string for one value, an array for several,
	// absent for none.
	Audience []string
	// Extra are caller-supplied claims; they may not use a registered name.
	Extra map[string]any
}

// Issued is a signed access token and what the caller needs to know of it.
type Issued struct {
	Token     string
	ID        string // jti
	KeyID     string
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
}

// Issuer signs access tokens by the token rules. It is safe for concurrent
// use.
type Issuer struct {
	src     SignerSource
	iss     string
	now     func() time.Time
	maxSize int // 0: DefaultMaxTokenSize
}

// IssuerOption configures an Issuer.
type IssuerOption func(*Issuer)

// WithIssuerClock sets the clock (default time.Now).
func WithIssuerClock(now func() time.Time) IssuerOption {
	return func(i *Issuer) {
		if now != nil {
			i.now = now
		}
	}
}

// WithIssuerMaxTokenSize sets the largest token Issue hands out, in bytes
// (default DefaultMaxTokenSize): the validators' limit, so that tokend
// never issues a token that it would refuse as TOKEN_TOO_LARGE. Zero or
// less keeps the default.
func WithIssuerMaxTokenSize(n int) IssuerOption {
	return func(i *Issuer) {
		if n > 0 {
			i.maxSize = n
		}
	}
}

// NewIssuer returns an Issuer that signs with the keys of src and writes
// issuerName into iss.
func NewIssuer(src SignerSource, issuerName string, opts ...IssuerOption) *Issuer {
	i := &Issuer{
		src: src,
		iss: issuerName,
		now: time.Now,
	}
	for _, opt := range opts {
		opt(i)
	}
	return i
}

// issuedClaims are the registered claims in the order they are written.
type issuedClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aid string `json:"aid"`
	Aud any    `json:"aud,omitempty"`
	Iat int64  `json:"iat"`
	Nbf int64  `json:"nbf"`
	Exp int64  `json:"exp"`
	Jti string `json:"jti"`
}

// Issue signs an access token for req. Errors wrap the package's
// sentinels: ErrAppNotFound, ErrAppDisabled, ErrInvalidSubject,
// ErrTTLOutOfRange, ErrInvalidNotBefore, ErrClaimReserved,
// ErrInvalidClaims, ErrInvalidAudience, ErrNoSigningKey.
func (i *Issuer) Issue(req IssueRequest) (Issued, error) {
	app, ok := i.src.App(req.AppID)
	if !ok {
		return Issued{}, fmt.Errorf("token: issue for app %q: %w", req.AppID, ErrAppNotFound)
	}
	if !app.Enabled {
		return Issued{}, fmt.Errorf("token: issue for app %q: %w", req.AppID, ErrAppDisabled)
	}
	if req.Subject == "" || len(req.Subject) > MaxSubjectLen || !utf8.ValidString(req.Subject) {
		return Issued{}, fmt.Errorf("token: issue: %w", ErrInvalidSubject)
	}
	ttl, limit := req.TTL, maxTTL(app)
	if ttl == 0 {
		ttl = defaultTTL(app)
	}
	if ttl < MinTTL || ttl > limit {
		return Issued{}, fmt.Errorf("token: issue: ttl %s outside [%s, %s]: %w", ttl, MinTTL, limit, ErrTTLOutOfRange)
	}
	if req.NotBeforeDelay < 0 || req.NotBeforeDelay >= ttl {
		return Issued{}, fmt.Errorf("token: issue: not_before_delay %s with ttl %s: %w", req.NotBeforeDelay, ttl, ErrInvalidNotBefore)
	}
	for name := range req.Extra {
		if IsRegisteredClaim(name) {
			return Issued{}, fmt.Errorf("token: issue: claim %q: %w", name, ErrClaimReserved)
		}
	}
	var extra []byte
	if len(req.Extra) > 0 {
		b, err := json.Marshal(req.Extra)
		if err != nil {
			return Issued{}, fmt.Errorf("token: issue: %w: %v", ErrInvalidClaims, err)
		}
		if deeperThan(string(b), maxJSONDepth) { // validation would refuse the token
			return Issued{}, fmt.Errorf("token: issue: %w: nested deeper than %d levels", ErrInvalidClaims, maxJSONDepth)
		}
		extra = b
	}
	var aud any
	for _, a := range req.Audience {
		if a == "" || !utf8.ValidString(a) {
			return Issued{}, fmt.Errorf("token: issue: %w", ErrInvalidAudience)
		}
	}
	switch len(req.Audience) {
	case 0:
	case 1:
		aud = req.Audience[0]
	default:
		aud = req.Audience
	}

	// NumericDates are whole seconds: the issue time is truncated, the
	// lifetime truncated (it stays >= MinTTL, a whole number of seconds) and
	// the delay rounded up (the token is never usable earlier than asked).
	now := i.now()
	iat := now.Unix()
	exp := iat + int64(ttl/time.Second)
	nbf := iat + int64((req.NotBeforeDelay+time.Second-1)/time.Second)
	if nbf >= exp {
		return Issued{}, fmt.Errorf("token: issue: not_before_delay %s with ttl %s: %w", req.NotBeforeDelay, ttl, ErrInvalidNotBefore)
	}
	expiresAt := time.Unix(exp, 0).UTC()

	key, ok := i.src.SigningKey(req.AppID, now)
	switch {
	case !ok || key.Signer == nil:
		return Issued{}, fmt.Errorf("token: issue for app %q: %w", req.AppID, ErrNoSigningKey)
	case !key.VerifyUntil.IsZero() && expiresAt.After(key.VerifyUntil):
		return Issued{}, fmt.Errorf("token: issue for app %q: key %q validates only until %s, the token would expire at %s: %w",
			req.AppID, key.ID, key.VerifyUntil.UTC().Format(time.RFC3339), expiresAt.Format(time.RFC3339), ErrNoSigningKey)
	}

	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails: it crashes the program if the system's generator is broken
	jti := base64.RawURLEncoding.EncodeToString(id[:])
	payload, err := json.Marshal(issuedClaims{
		Iss: i.iss, Sub: req.Subject, Aid: req.AppID, Aud: aud,
		Iat: iat, Nbf: nbf, Exp: exp, Jti: jti,
	})
	if err != nil {
		return Issued{}, fmt.Errorf("token: issue: %w", err)
	}
	if len(extra) > 2 { // not "{}": splice the extra members in
		payload = append(payload[:len(payload)-1], ',')
		payload = append(payload, extra[1:]...)
	}

	raw, err := signToken(key, payload)
	if err != nil {
		return Issued{}, fmt.Errorf("token: issue for app %q: %w", req.AppID, err)
	}
	if limit := cmp.Or(i.maxSize, DefaultMaxTokenSize); len(raw) > limit {
		return Issued{}, fmt.Errorf("token: issue: %w: the token would be %d bytes, over the %d-byte limit of validation", ErrInvalidClaims, len(raw), limit)
	}
	return Issued{
		Token:     raw,
		ID:        jti,
		KeyID:     key.ID,
		IssuedAt:  time.Unix(iat, 0).UTC(),
		NotBefore: time.Unix(nbf, 0).UTC(),
		ExpiresAt: expiresAt,
	}, nil
}

// signToken signs payload with key: directly when NewSigningKey prepared
// it (its header was checked then), else through key.Signer, whose header
// is checked on every token.
func signToken(key SigningKey, payload []byte) (string, error) {
	if d := key.direct; d != nil && d.alg == key.Algorithm {
		raw, err := d.sign(payload)
		if err != nil {
			return "", fmt.Errorf("sign with key %q: %w", key.ID, err)
		}
		return raw, nil
	}
	jws, err := key.Signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign with key %q: %w", key.ID, err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("serialize: %w", err)
	}
	if err := checkSignerHeader(raw, key); err != nil {
		return "", fmt.Errorf("%v: %w", err, ErrNoSigningKey)
	}
	return raw, nil
}

// checkSignerHeader makes sure the signer wrote the header the token rules
// ask for (alg of the key, its kid, typ JWT, nothing that our own
// validator refuses), so that a misbuilt SigningKey fails here rather than
// in every validator.
func checkSignerHeader(raw string, key SigningKey) error {
	seg, _, _, detail := splitCompact(raw)
	if detail != "" {
		return fmt.Errorf("signer of key %q: %s", key.ID, detail)
	}
	h, reason, detail := parseHeader(seg)
	switch {
	case reason != ReasonNone:
		return fmt.Errorf("signer of key %q: %s", key.ID, detail)
	case h.alg != key.Algorithm:
		return fmt.Errorf("signer of key %q writes alg %s, the key is %s", key.ID, h.alg, key.Algorithm)
	case h.kid != key.ID:
		return fmt.Errorf("signer of key %q writes kid %q", key.ID, h.kid)
	case !h.hasTyp || h.typ != "JWT":
		return fmt.Errorf("signer of key %q does not write typ JWT", key.ID)
	}
	return nil
}

// NewSigningKey builds the SigningKey of key id: a go-jose signer for alg
// whose protected header carries kid id and typ JWT, as Issue requires.
// private must fit alg: *ecdsa.PrivateKey on P-256 for ES256,
// ed25519.PrivateKey for EdDSA, *rsa.PrivateKey of at least 2048 bits for
// RS256 and PS256; any other crypto.Signer (an HSM or KMS key) is used
// through go-jose's cryptosigner when its public key fits alg. verifyUntil
// is when the key stops validating (zero: no end).
func NewSigningKey(id string, alg jose.SignatureAlgorithm, private crypto.Signer, verifyUntil time.Time) (SigningKey, error) {
	if id == "" {
		return SigningKey{}, fmt.Errorf("token: new signing key: empty key id: %w", ErrInvalidKey)
	}
	if reason, detail := judgeAlgorithm(alg); reason != ReasonNone {
		return SigningKey{}, fmt.Errorf("token: new signing key %q: %s: %w", id, detail, ErrInvalidKey)
	}
	var k any
	switch p := private.(type) {
	case *ecdsa.PrivateKey:
		if p != nil {
			k = p
		}
	case ed25519.PrivateKey:
		k = p
	case *ed25519.PrivateKey:
		if p != nil {
			k, private = *p, *p
		}
	case *rsa.PrivateKey:
		if p != nil {
			k = p
		}
	case nil:
	default:
		k = cryptosigner.Opaque(private)
	}
	if k == nil {
		return SigningKey{}, fmt.Errorf("token: new signing key %q: no private key: %w", id, ErrInvalidKey)
	}
	if p, ok := k.(ed25519.PrivateKey); ok && len(p) != ed25519.PrivateKeySize {
		return SigningKey{}, fmt.Errorf("token: new signing key %q: ed25519 key of %d bytes: %w", id, len(p), ErrInvalidKey)
	}
	pub := private.Public()
	if !usable(VerifyKey{Algorithm: alg, Public: pub}) {
		return SigningKey{}, fmt.Errorf("token: new signing key %q: a %T does not fit %s: %w", id, pub, alg, ErrInvalidKey)
	}
	if rsaPub, ok := pub.(*rsa.PublicKey); ok && rsaPub.N.BitLen() < 2048 {
		return SigningKey{}, fmt.Errorf("token: new signing key %q: RSA key of %d bits, need 2048: %w", id, rsaPub.N.BitLen(), ErrInvalidKey)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", id)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, opts)
	if err != nil {
		return SigningKey{}, fmt.Errorf("token: new signing key %q: %v: %w", id, err, ErrInvalidKey)
	}
	direct, err := newDirectSigner(id, alg, private)
	if err != nil {
		return SigningKey{}, fmt.Errorf("token: new signing key %q: %v: %w", id, err, ErrInvalidKey)
	}
	return SigningKey{ID: id, Algorithm: alg, Signer: signer, VerifyUntil: verifyUntil, direct: direct}, nil
}
