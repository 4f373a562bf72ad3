package refresh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/token"
)

// Errors of refreshing. Like OAuth's invalid_grant, they are the answer
// about the presented refresh token, not about the caller.
var (
	// ErrInvalid: the refresh token is unknown (or not one tokend makes).
	ErrInvalid = errors.New("refresh: refresh token is not valid")
	// ErrExpired: the refresh token passed its idle expiry, or its family
	// its absolute expiry.
	ErrExpired = errors.New("refresh: refresh token has expired")
	// ErrRevoked: the refresh token's family was revoked.
	ErrRevoked = errors.New("refresh: refresh token was revoked")
	// ErrReused: the refresh token had already been used; its whole family
	// is now revoked.
	ErrReused = errors.New("refresh: refresh token was already used")
)

// Defaults.
const (
	// DefaultReplayWindow is how long after a rotation a retry with the same
	// idempotency key gets the same answer.
	DefaultReplayWindow = 30 * time.Second
	// fallbackIdleTTL and fallbackFamilyTTL apply to an app record without
	// refresh lifetimes (the app package always sets them).
	fallbackIdleTTL   = 14 * 24 * time.Hour
	fallbackFamilyTTL = 90 * 24 * time.Hour
	// revokeTimeout bounds the writes of a revocation, which run even when
	// the caller went away.
	revokeTimeout = 10 * time.Second
)

// Store is the part of the store the Service needs.
type Store interface {
	CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error
	GetRefreshToken(ctx context.Context, hash string) (storage.RefreshToken, error)
	RotateRefreshToken(ctx context.Context, oldHash string, usedAt time.Time, idempotencyKey string, replay []byte, next storage.RefreshToken) (storage.RefreshToken, error)
	RevokeFamily(ctx context.Context, familyID string, at time.Time) ([]storage.RefreshToken, error)
	RevokeSubjectFamilies(ctx context.Context, appID, subject string, at time.Time) ([]storage.RefreshToken, error)
	AddRevocations(ctx context.Context, rs []storage.Revocation) error
}

// Apps gives the Service the apps' policies (the key registry).
type Apps interface {
	StoredApp(appID string) (storage.App, bool)
}

// Issuer signs access tokens (token.Issuer).
type Issuer interface {
	Issue(req token.IssueRequest) (token.Issued, error)
}

// Service issues, rotates and revokes refresh tokens and revokes access
// tokens. It is safe for concurrent use.
type Service struct {
	store  Store
	apps   Apps
	issuer Issuer
	deny   *Denylist
	now    func() time.Time
	log    *slog.Logger
	leeway time.Duration
	window time.Duration
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Service) {
		if now != nil {
			s.now = now
		}
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(log *slog.Logger) Option {
	return func(s *Service) {
		if log != nil {
			s.log = log
		}
	}
}

// WithLeeway sets the validation clock leeway, which denylist entries
// outlive their tokens by (default token.DefaultLeeway).
func WithLeeway(d time.Duration) Option { return func(s *Service) { s.leeway = max(d, 0) } }

// WithReplayWindow sets how long a retry with the same idempotency key
// gets the same answer (default DefaultReplayWindow).
func WithReplayWindow(d time.Duration) Option { return func(s *Service) { s.window = max(d, 0) } }

// New returns a Service. Revocations go to the store and, synchronously,
// to deny, which must be the Denylist the validator reads.
func New(store Store, apps Apps, issuer Issuer, deny *Denylist, opts ...Option) *Service {
	s := &Service{
		store: store, apps: apps, issuer: issuer, deny: deny,
		now: time.Now, log: slog.New(slog.DiscardHandler),
		leeway: token.DefaultLeeway, window: DefaultReplayWindow,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Tokens is an access token with the refresh token issued with it.
type Tokens struct {
	Access token.Issued
	// RefreshToken is the opaque refresh token; shown only to the caller.
	RefreshToken string
	// RefreshExpiresAt is when RefreshToken stops working unless used:
	// the earlier of its idle expiry and its family's absolute expiry.
	RefreshExpiresAt time.Time
}

// Issue signs an access token for req and starts a refresh family bound to
// its app, subject, audience and extra claims. The family is committed to
// the store before Issue returns. Errors are those of token.Issuer.Issue
// and of the store.
func (s *Service) Issue(ctx context.Context, req token.IssueRequest) (Tokens, error) {
	app, ok := s.apps.StoredApp(req.AppID)
	if !ok {
		return Tokens{}, fmt.Errorf("refresh: issue for app %q: %w", req.AppID, token.ErrAppNotFound)
	}
	issued, err := s.issuer.Issue(req)
	if err != nil {
		return Tokens{}, err
	}
	var claims []byte
	if len(req.Extra) > 0 {
		if claims, err = json.Marshal(req.Extra); err != nil { // the issuer encoded them already
			return Tokens{}, fmt.Errorf("refresh: issue: %w: %v", token.ErrInvalidClaims, err)
		}
	}
	now := s.now().UTC()
	familyTTL := app.RefreshFamilyTTL
	if familyTTL <= 0 {
		familyTTL = fallbackFamilyTTL
	}
	raw, hash := newToken()
	rec := storage.RefreshToken{
		Hash: hash, FamilyID: newID("fam_"), AppID: req.AppID, Subject: req.Subject,
		Audience: req.Audience, Claims: claims,
		AccessTokenID: issued.ID, AccessTokenExpiresAt: issued.ExpiresAt,
		CreatedAt: now, FamilyExpiresAt: now.Add(familyTTL),
	}
	rec.ExpiresAt = idleExpiry(app, now, rec.FamilyExpiresAt)
	if err := s.store.CreateRefreshToken(ctx, rec); err != nil {
		return Tokens{}, fmt.Errorf("refresh: issue for app %q: %w", req.AppID, err)
	}
	return Tokens{Access: issued, RefreshToken: raw, RefreshExpiresAt: rec.ExpiresAt}, nil
}

// idleExpiry is the expiry of a refresh token made at now: its idle
// lifetime, capped by the family's absolute expiry.
func idleExpiry(app storage.App, now, familyExpiresAt time.Time) time.Time {
	idle := app.RefreshIdleTTL
	if idle <= 0 {
		idle = fallbackIdleTTL
	}
	if exp := now.Add(idle); exp.Before(familyExpiresAt) {
		return exp
	}
	return familyExpiresAt
}

// RefreshRequest presents a refresh token.
type RefreshRequest struct {
	// Token is the refresh token.
	Token string
	// TTL is the lifetime of the new access token; zero means the app's
	// default.
	TTL time.Duration
	// IdempotencyKey, when not empty, makes a retry safe: the same token
	// presented again with the same key by the same caller within the
	// replay window gets the same answer. Use a random key per attempt.
	IdempotencyKey string
	// CallerID is the authenticated caller; a replay goes to it only.
	CallerID string
	// Authorize is asked whether the caller may act on the token's app,
	// once the token is found; its error is returned as is. Nil allows.
	Authorize func(appID string) error
}

// replayAnswer is what a replay holds: the answer of the rotation and the
// caller it went to.
type replayAnswer struct {
	CallerID         string    `json:"caller"`
	AccessToken      string    `json:"at"`
	TokenID          string    `json:"jti"`
	KeyID            string    `json:"kid"`
	IssuedAt         time.Time `json:"iat"`
	NotBefore        time.Time `json:"nbf"`
	ExpiresAt        time.Time `json:"exp"`
	RefreshToken     string    `json:"rt"`
	RefreshExpiresAt time.Time `json:"rt_exp"`
}

func (a replayAnswer) tokens() Tokens {
	return Tokens{
		Access: token.Issued{
			Token: a.AccessToken, ID: a.TokenID, KeyID: a.KeyID,
			IssuedAt: a.IssuedAt, NotBefore: a.NotBefore, ExpiresAt: a.ExpiresAt,
		},
		RefreshToken: a.RefreshToken, RefreshExpiresAt: a.RefreshExpiresAt,
	}
}

// Refresh exchanges a refresh token for a new access token and the next
// refresh token of its family, and kills the presented one. The rotation
// is committed to the store before Refresh returns.
//
// Errors: ErrInvalid (unknown), ErrExpired (idle or family lifetime over),
// ErrRevoked (family revoked), ErrReused (already used: the family and the
// access tokens issued from it are now revoked), the error of Authorize,
// token.ErrAppDisabled, the errors of token.Issuer.Issue for the new
// access token (the refresh token is then not consumed), and store errors.
func (s *Service) Refresh(ctx context.Context, req RefreshRequest) (Tokens, error) {
	if !wellFormed(req.Token) {
		return Tokens{}, ErrInvalid
	}
	hash := hashToken(req.Token)
	rec, err := s.store.GetRefreshToken(ctx, hash)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return Tokens{}, ErrInvalid
	case err != nil:
		return Tokens{}, fmt.Errorf("refresh: look up refresh token: %w", err)
	}
	if req.Authorize != nil {
		if err := req.Authorize(rec.AppID); err != nil {
			return Tokens{}, err
		}
	}
	now := s.now().UTC()
	if out, done, err := s.judge(ctx, req, hash, rec, now); done {
		return out, err
	}
	app, ok := s.apps.StoredApp(rec.AppID)
	if !ok {
		return Tokens{}, ErrInvalid // the app is gone, and its tokens with it
	}
	if !app.Enabled {
		return Tokens{}, fmt.Errorf("refresh: family %s: %w", rec.FamilyID, token.ErrAppDisabled)
	}

	ir := token.IssueRequest{AppID: rec.AppID, Subject: rec.Subject, TTL: req.TTL, Audience: rec.Audience}
	if len(rec.Claims) > 0 {
		if err := json.Unmarshal(rec.Claims, &ir.Extra); err != nil {
			return Tokens{}, fmt.Errorf("refresh: family %s: stored claims: %w", rec.FamilyID, err)
		}
	}
	issued, err := s.issuer.Issue(ir)
	if err != nil {
		return Tokens{}, err
	}
	raw, nextHash := newToken()
	next := storage.RefreshToken{
		Hash: nextHash, FamilyID: rec.FamilyID, AppID: rec.AppID, Subject: rec.Subject,
		Audience: rec.Audience, Claims: rec.Claims,
		AccessTokenID: issued.ID, AccessTokenExpiresAt: issued.ExpiresAt,
		CreatedAt: now, ExpiresAt: idleExpiry(app, now, rec.FamilyExpiresAt), FamilyExpiresAt: rec.FamilyExpiresAt,
	}
	answer := replayAnswer{
		CallerID: req.CallerID, AccessToken: issued.Token, TokenID: issued.ID, KeyID: issued.KeyID,
		IssuedAt: issued.IssuedAt, NotBefore: issued.NotBefore, ExpiresAt: issued.ExpiresAt,
		RefreshToken: raw, RefreshExpiresAt: next.ExpiresAt,
	}
	var replay []byte
	if req.IdempotencyKey != "" {
		pt, err := json.Marshal(answer)
		if err != nil {
			return Tokens{}, fmt.Errorf("refresh: encode replay: %w", err)
		}
		if replay, err = sealReplay(req.Token, hash, pt); err != nil {
			return Tokens{}, err
		}
	}
	cur, err := s.store.RotateRefreshToken(ctx, hash, now, req.IdempotencyKey, replay, next)
	switch {
	case err == nil:
		return answer.tokens(), nil
	case errors.Is(err, storage.ErrNotFound):
		return Tokens{}, ErrInvalid // swept in between
	case errors.Is(err, storage.ErrRefreshUsed), errors.Is(err, storage.ErrConflict):
		// A concurrent call used or revoked it first: judge again on what
		// the store holds now.
		if out, done, err := s.judge(ctx, req, hash, cur, now); done {
			return out, err
		}
		return Tokens{}, fmt.Errorf("refresh: family %s: rotation refused but the token looks unused: %w", rec.FamilyID, storage.ErrConflict)
	}
	return Tokens{}, fmt.Errorf("refresh: rotate family %s: %w", rec.FamilyID, err)
}

// judge applies the rules that need no signing to the stored record of the
// presented token: a used token is replayed or revoked as reuse, a revoked
// or expired one refused. done is false when the token may be rotated.
func (s *Service) judge(ctx context.Context, req RefreshRequest, hash string, rec storage.RefreshToken, now time.Time) (out Tokens, done bool, err error) {
	switch {
	case !rec.UsedAt.IsZero():
		// Checked first, so that every presentation of a used token is
		// answered as reuse, also once the family is revoked (by a
		// concurrent reuse, for example).
		if rec.RevokedAt.IsZero() {
			if out, ok := s.replay(ctx, req, hash, rec, now); ok {
				return out, true, nil
			}
		}
		return Tokens{}, true, s.reused(ctx, rec, now)
	case !rec.RevokedAt.IsZero():
		return Tokens{}, true, ErrRevoked
	case !now.Before(rec.FamilyExpiresAt), !now.Before(rec.ExpiresAt):
		return Tokens{}, true, ErrExpired
	}
	return Tokens{}, false, nil
}

// replay returns the answer of the rotation of rec when req is a retry of
// it: same idempotency key and caller, within the window, and the refresh
// token handed out then not used yet (else the answer was not lost).
func (s *Service) replay(ctx context.Context, req RefreshRequest, hash string, rec storage.RefreshToken, now time.Time) (Tokens, bool) {
	if req.IdempotencyKey == "" || req.IdempotencyKey != rec.IdempotencyKey || len(rec.Replay) == 0 ||
		now.Sub(rec.UsedAt) > s.window {
		return Tokens{}, false
	}
	pt, err := openReplay(req.Token, hash, rec.Replay)
	if err != nil {
		s.log.ErrorContext(ctx, "refresh replay does not open; treating the retry as reuse",
			slog.String("app_id", rec.AppID), slog.String("family_id", rec.FamilyID))
		return Tokens{}, false
	}
	var a replayAnswer
	if err := json.Unmarshal(pt, &a); err != nil || a.CallerID != req.CallerID {
		return Tokens{}, false
	}
	next, err := s.store.GetRefreshToken(ctx, hashToken(a.RefreshToken))
	if err != nil || !next.UsedAt.IsZero() || !next.RevokedAt.IsZero() {
		return Tokens{}, false
	}
	return a.tokens(), true
}

// reused revokes the family of a reused refresh token and returns
// ErrReused, or the error of the revocation.
func (s *Service) reused(ctx context.Context, rec storage.RefreshToken, now time.Time) error {
	n, err := s.revokeFamily(ctx, rec.FamilyID, now, "refresh token reuse")
	if err != nil {
		return err
	}
	s.log.WarnContext(ctx, "refresh token reuse detected: family revoked",
		slog.String("app_id", rec.AppID), slog.String("family_id", rec.FamilyID), slog.Int("live_refresh_tokens", n))
	return fmt.Errorf("refresh: family %s: %w", rec.FamilyID, ErrReused)
}

// revokeFamily revokes every refresh token of a family and deny-lists the
// access tokens issued with them that may still be valid. It returns how
// many of the revoked refresh tokens were still usable. It runs to the end
// even when ctx is canceled: a half-done revocation would serve no one.
func (s *Service) revokeFamily(ctx context.Context, familyID string, now time.Time, reason string) (int, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
	defer cancel()
	ts, err := s.store.RevokeFamily(ctx, familyID, now)
	if err != nil {
		return 0, fmt.Errorf("refresh: revoke family %s: %w", familyID, err)
	}
	// Every token of the family, also those revoked before: a revocation
	// interrupted between the two writes is completed by the next one.
	var rs []storage.Revocation
	for _, t := range ts {
		if t.AccessTokenID == "" {
			continue
		}
		exp := t.AccessTokenExpiresAt.Add(s.leeway)
		if exp.Before(now) {
			continue // the access token can no longer validate
		}
		rs = append(rs, storage.Revocation{
			AppID: t.AppID, Kind: storage.RevokeTokenID, Value: t.AccessTokenID,
			RevokedAt: now, ExpiresAt: exp, Reason: reason,
		})
	}
	if err := s.addRevocations(ctx, rs); err != nil {
		return 0, err
	}
	return countLive(ts, now), nil
}

// countLive counts the tokens that were usable: neither used, revoked nor
// expired. It is the number of sessions a revocation ended.
func countLive(ts []storage.RefreshToken, now time.Time) int {
	n := 0
	for _, t := range ts {
		if t.UsedAt.IsZero() && t.RevokedAt.IsZero() && now.Before(t.ExpiresAt) && now.Before(t.FamilyExpiresAt) {
			n++
		}
	}
	return n
}

// addRevocations deny-lists rs in memory first (validation in this process
// refuses the tokens at once, even if the store write fails), then in the
// store.
func (s *Service) addRevocations(ctx context.Context, rs []storage.Revocation) error {
	if len(rs) == 0 {
		return nil
	}
	s.deny.Add(rs...)
	if err := s.store.AddRevocations(ctx, rs); err != nil {
		return fmt.Errorf("refresh: store %d revocations: %w", len(rs), err)
	}
	return nil
}

// Target is what RevokeToken revokes; exactly one field is set.
type Target struct {
	// TokenID revokes one access token by its jti.
	TokenID string
	// RefreshToken revokes its family and the access tokens issued from it.
	RefreshToken string
	// Subject revokes every refresh family and every access token issued
	// so far to the subject in the app.
	Subject string
}

// RevokeRequest names what to revoke.
type RevokeRequest struct {
	AppID  string
	Target Target
	// Reason is kept with the denylist entries for the audit trail.
	Reason string
}

// Revoke revokes req.Target in req.AppID and returns how many refresh
// tokens that were still usable it revoked. Revoked access tokens are
// refused by validation at once in this process and after restarts, until
// they would have expired anyway.
//
// Errors: token.ErrAppNotFound, ErrInvalid for a refresh token that is
// unknown or of another app, and store errors.
func (s *Service) Revoke(ctx context.Context, req RevokeRequest) (int, error) {
	app, ok := s.apps.StoredApp(req.AppID)
	if !ok {
		return 0, fmt.Errorf("refresh: revoke in app %q: %w", req.AppID, token.ErrAppNotFound)
	}
	now := s.now().UTC()
	// An entry by jti or subject must outlive every token it covers: one
	// issued now expires by now + the app's longest lifetime, and
	// validates until the leeway after that.
	maxTTL := app.MaxTokenTTL
	if maxTTL <= 0 {
		maxTTL = token.DefaultMaxTTL
	}
	entryExpiry := now.Add(maxTTL + s.leeway)
	t := req.Target
	switch {
	case t.TokenID != "" && t.RefreshToken == "" && t.Subject == "":
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
		defer cancel()
		return 0, s.addRevocations(ctx, []storage.Revocation{{
			AppID: req.AppID, Kind: storage.RevokeTokenID, Value: t.TokenID,
			RevokedAt: now, ExpiresAt: entryExpiry, Reason: req.Reason,
		}})

	case t.RefreshToken != "" && t.TokenID == "" && t.Subject == "":
		if !wellFormed(t.RefreshToken) {
			return 0, ErrInvalid
		}
		rec, err := s.store.GetRefreshToken(ctx, hashToken(t.RefreshToken))
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return 0, ErrInvalid
		case err != nil:
			return 0, fmt.Errorf("refresh: look up refresh token: %w", err)
		case rec.AppID != req.AppID:
			return 0, ErrInvalid // not this app's: do not tell whether it exists
		}
		reason := req.Reason
		if reason == "" {
			reason = "refresh family revoked"
		}
		return s.revokeFamily(ctx, rec.FamilyID, now, reason)

	case t.Subject != "" && t.TokenID == "" && t.RefreshToken == "":
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
		defer cancel()
		// The subject entry first: should the family revocation fail, the
		// access tokens are refused all the same and a retry finishes.
		if err := s.addRevocations(ctx, []storage.Revocation{{
			AppID: req.AppID, Kind: storage.RevokeSubject, Value: t.Subject,
			RevokedAt: now, ExpiresAt: entryExpiry, Reason: req.Reason,
		}}); err != nil {
			return 0, err
		}
		ts, err := s.store.RevokeSubjectFamilies(ctx, req.AppID, t.Subject, now)
		if err != nil {
			return 0, fmt.Errorf("refresh: revoke refresh families of a subject in app %q: %w", req.AppID, err)
		}
		return countLive(ts, now), nil
	}
	return 0, errors.New("refresh: revoke: exactly one target is required")
}
