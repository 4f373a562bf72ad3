package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/refresh"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/token"
)

// Types of the token rules, shared with the server (server/token).
type (
	// Expect is what Validate requires of a token beyond the token rules:
	// an audience and/or an app.
	Expect = token.Expect
	// Result is the verdict on a token; Result.Reason says why it is not
	// valid (ReasonNone when it is). ResultError turns it into an error.
	Result = token.Result
	// Claims are the claims of a token.
	Claims = token.Claims
	// Reason says why a token is not valid.
	Reason = token.Reason
)

// KeyFeed says where a local Validator gets the apps, keys and
// revocations it validates with.
type KeyFeed int

const (
	// KeyFeedAuto follows WatchKeys, and polls GetJWKS instead when the
	// server does not offer WatchKeys (UNIMPLEMENTED).
	KeyFeedAuto KeyFeed = iota
	// KeyFeedWatch follows WatchKeys only: every change is pushed within
	// moments, revocations included. The stream reconnects with backoff
	// and resumes from the version it holds.
	KeyFeedWatch
	// KeyFeedPoll polls GetJWKS every poll interval, and at once (at most
	// once per refresh interval) when a token names a key or app it does
	// not know. GetJWKS carries no revocations: a polling Validator does
	// not see revoked tokens.
	KeyFeedPoll
)

// Defaults of a local Validator.
const (
	DefaultPollInterval       = 30 * time.Second
	DefaultRefreshMinInterval = 5 * time.Second
	DefaultReadyTimeout       = 10 * time.Second
	// DefaultValidatorCacheSize is the validation cache of a local
	// Validator, as the server's default.
	DefaultValidatorCacheSize = 10000
	defaultMinBackoff         = 100 * time.Millisecond
	defaultMaxBackoff         = 30 * time.Second
	// watchMaxRecvSize bounds one WatchKeys message (a full snapshot of
	// every app in scope and every live revocation).
	watchMaxRecvSize = 256 << 20
)

// Errors of Validate that are not an answer about the token.
var (
	// ErrNotReady: a local Validator has no key set yet (the server was
	// not reachable within the wait; the cause is wrapped).
	ErrNotReady = errors.New("tokend: validator has no key set yet")
	// ErrStale: a local Validator lost its feed longer than the maximum
	// staleness (WithMaxStaleness), so it refuses to judge.
	ErrStale = errors.New("tokend: validator's key set is stale")
	// ErrValidatorClosed: Validate after Close.
	ErrValidatorClosed = errors.New("tokend: validator is closed")
)

// ValidatorOption configures a Validator.
type ValidatorOption func(*Validator)

// WithValidatorApp limits a local Validator to one app (default: every
// app in the caller's scope). Tokens of other apps answer UNKNOWN_APP.
func WithValidatorApp(appID string) ValidatorOption {
	return func(v *Validator) { v.appID = appID }
}

// WithKeyFeed chooses the feed of a local Validator (default KeyFeedAuto).
func WithKeyFeed(f KeyFeed) ValidatorOption { return func(v *Validator) { v.feed = f } }

// WithValidatorClock sets the clock tokens are judged by (default
// time.Now). Background timing (polls, backoff, staleness) uses the real
// clock.
func WithValidatorClock(now func() time.Time) ValidatorOption {
	return func(v *Validator) {
		if now != nil {
			v.now = now
		}
	}
}

// WithValidatorLeeway sets the clock skew tolerated on exp, nbf and iat
// (default token.DefaultLeeway, the server's default: keep them equal).
func WithValidatorLeeway(d time.Duration) ValidatorOption {
	return func(v *Validator) { v.tokenOpts = append(v.tokenOpts, token.WithLeeway(d)) }
}

// WithValidatorMaxTokenSize sets the largest token read (default
// token.DefaultMaxTokenSize, the server's default: keep them equal).
func WithValidatorMaxTokenSize(n int) ValidatorOption {
	return func(v *Validator) { v.tokenOpts = append(v.tokenOpts, token.WithMaxTokenSize(n)) }
}

// WithValidatorCache sets how many valid tokens a local Validator keeps
// verdicts of (default DefaultValidatorCacheSize; 0 turns the cache off):
// a token seen again skips parsing and signature verification, while
// every time rule, the expectation and the denylist are judged again and
// any change of the key set drops all verdicts (token.WithCache, the
// server's own cache).
func WithValidatorCache(entries int) ValidatorOption {
	return func(v *Validator) { v.tokenOpts = append(v.tokenOpts, token.WithCache(entries)) }
}

// WithPollInterval sets how often a polling Validator fetches GetJWKS
// (default DefaultPollInterval). Keep it under the server's JWKS max-age
// (5 min by default), the time a new key is published before it signs.
func WithPollInterval(d time.Duration) ValidatorOption {
	return func(v *Validator) {
		if d > 0 {
			v.pollEvery = d
		}
	}
}

// WithRefreshMinInterval sets the least time between two fetches that a
// token with an unknown key or app triggers (default
// DefaultRefreshMinInterval): a flood of such tokens costs at most one
// GetJWKS per interval.
func WithRefreshMinInterval(d time.Duration) ValidatorOption {
	return func(v *Validator) { v.refreshEvery = max(d, 0) }
}

// WithReconnectBackoff sets the exponential backoff (with jitter) between
// WatchKeys reconnections and failed polls (default 100 ms to 30 s).
func WithReconnectBackoff(minDelay, maxDelay time.Duration) ValidatorOption {
	return func(v *Validator) {
		if minDelay > 0 && maxDelay >= minDelay {
			v.minBackoff, v.maxBackoff = minDelay, maxDelay
		}
	}
}

// WithReadyTimeout sets how long Validate waits for the first key set when
// its context has no deadline (default DefaultReadyTimeout).
func WithReadyTimeout(d time.Duration) ValidatorOption {
	return func(v *Validator) {
		if d > 0 {
			v.readyTimeout = d
		}
	}
}

// WithMaxStaleness makes a local Validator fail closed: once its feed has
// been lost (stream down, polls failing) for longer than d, Validate
// returns ErrStale instead of judging with what it holds. Default 0: it
// keeps validating with the last key set it received.
func WithMaxStaleness(d time.Duration) ValidatorOption {
	return func(v *Validator) { v.maxStale = max(d, 0) }
}

// WithValidatorLogger sets the logger of the background feed (default:
// none). It logs reconnections and fallbacks, never a token.
func WithValidatorLogger(l *slog.Logger) ValidatorOption {
	return func(v *Validator) {
		if l != nil {
			v.log = l
		}
	}
}

// Validator validates access tokens, either locally or by asking tokend.
//
// A local Validator (NewLocalValidator) judges tokens in-process with the
// server's own rule code (server/token) over the apps, keys and
// revocations it keeps current from tokend: no round trip per token, so a
// sidecar or service validates at memory speed and keeps validating
// through a tokend outage. A remote Validator (NewRemoteValidator) calls
// ValidateToken. Both answer the same Result and the same errors.
//
// It is safe for concurrent use. Close stops a local Validator's
// background feed.
type Validator struct {
	c      *Client
	remote bool

	appID        string
	feed         KeyFeed
	now          func() time.Time
	tokenOpts    []token.ValidatorOption
	pollEvery    time.Duration
	refreshEvery time.Duration
	minBackoff   time.Duration
	maxBackoff   time.Duration
	readyTimeout time.Duration
	maxStale     time.Duration
	log          *slog.Logger

	keys  keySource
	deny  denylist
	rules *token.Validator
	ready chan struct{}
	stop  context.CancelFunc
	done  chan struct{}

	mu          sync.Mutex
	readyOnce   bool
	version     int64
	mode        string // "watch", "poll" or "remote"
	connected   bool
	lostAt      time.Time // when the feed was lost (zero while connected)
	lastErr     error
	lastFetch   time.Time      // last fetch (or its start) triggered by an unknown key
	fetching    chan struct{}  // closed when the running triggered fetch ends
	fetchResult error          // of the last triggered fetch
	stats       ValidatorStats // counters

	closed atomic.Bool // set by Close; read on every Validate
}

// ValidatorStats counts what a Validator's feed did.
type ValidatorStats struct {
	// Fetches counts GetJWKS fetches (periodic and triggered).
	Fetches int
	// TriggeredFetches counts fetches triggered by an unknown key or app.
	TriggeredFetches int
	// Streams counts WatchKeys streams opened.
	Streams int
	// Snapshots and Changes count WatchKeys messages applied.
	Snapshots, Changes int
}

// ValidatorStatus is a local Validator's view of its feed.
type ValidatorStatus struct {
	// Mode is "watch", "poll" or "remote".
	Mode string
	// Ready is true once a key set was received.
	Ready bool
	// Connected is true while the WatchKeys stream is up, or while the
	// last poll succeeded.
	Connected bool
	// Version is the WatchKeys version held (0 when polling).
	Version int64
	// LastError is the feed's latest failure, if any.
	LastError error
	Stats     ValidatorStats
}

// NewLocalValidator returns a Validator that validates tokens in-process
// and starts its feed in the background (WatchKeys, or GetJWKS polling:
// see KeyFeed). Validate waits for the first key set. The caller of c
// needs the validator role. Close it when done; it does not close c.
func NewLocalValidator(c *Client, opts ...ValidatorOption) *Validator {
	v := newValidator(c, opts)
	v.keys.store(newKeySet())
	v.deny.p.Store(refresh.NewDenylist())
	v.rules = token.NewValidator(&v.keys, append([]token.ValidatorOption{
		token.WithClock(v.now), token.WithDenylist(&v.deny), token.WithCache(DefaultValidatorCacheSize),
	}, v.tokenOpts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	v.stop = cancel
	go v.run(ctx)
	return v
}

// NewRemoteValidator returns a Validator that calls ValidateToken for
// every token. Close does nothing to c.
func NewRemoteValidator(c *Client) *Validator {
	v := newValidator(c, nil)
	v.remote, v.mode = true, "remote"
	close(v.ready)
	close(v.done)
	v.stop = func() {}
	return v
}

func newValidator(c *Client, opts []ValidatorOption) *Validator {
	v := &Validator{
		c: c, now: time.Now, pollEvery: DefaultPollInterval, refreshEvery: DefaultRefreshMinInterval,
		minBackoff: defaultMinBackoff, maxBackoff: defaultMaxBackoff, readyTimeout: DefaultReadyTimeout,
		log:   slog.New(slog.DiscardHandler),
		ready: make(chan struct{}), done: make(chan struct{}),
	}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Validate judges raw as an access token of tokend, by the same rules and
// with the same reasons as the server's ValidateToken.
//
// An invalid token is an answer: a Result whose Reason says why, and a nil
// error (ResultError makes it an error for errors.Is). The error is for a
// bad request (an empty, oversized or non-UTF-8 token: *Error with reason
// TOKEN_EMPTY, TOKEN_TOO_LARGE, TOKEN_NOT_UTF8, as the server answers),
// for a local Validator without a current key set (ErrNotReady,
// ErrStale), or for a remote call that failed. With an error, the Result
// is never valid.
func (v *Validator) Validate(ctx context.Context, raw string, exp Expect) (Result, error) {
	if v.remote {
		return v.validateRemote(ctx, raw, exp)
	}
	if err := v.waitReady(ctx); err != nil {
		return notJudged(err)
	}
	if err := v.checkFresh(); err != nil {
		return notJudged(err)
	}
	res, err := v.rules.Validate(raw, exp)
	if err != nil {
		return res, requestError(err)
	}
	if (res.Reason == token.ReasonUnknownKey || res.Reason == token.ReasonUnknownApp) && v.triggerFetch(ctx) {
		if res, err = v.rules.Validate(raw, exp); err != nil {
			return res, requestError(err)
		}
	}
	return res, nil
}

// Wait blocks until a local Validator holds its first key set, or ctx is
// done.
func (v *Validator) Wait(ctx context.Context) error {
	select {
	case <-v.ready:
		return nil
	case <-ctx.Done():
		v.mu.Lock()
		cause := v.lastErr
		v.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrNotReady, errors.Join(ctx.Err(), cause))
	}
}

func (v *Validator) waitReady(ctx context.Context) error {
	select {
	case <-v.ready:
		return nil
	default:
	}
	if v.closed.Load() {
		return ErrValidatorClosed
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, v.readyTimeout)
		defer cancel()
	}
	return v.Wait(ctx)
}

// checkFresh fails after Close, and when the feed has been lost longer
// than maxStale. Without a maximum staleness it takes no lock.
func (v *Validator) checkFresh() error {
	if v.closed.Load() {
		return ErrValidatorClosed
	}
	if v.maxStale == 0 {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if lost := time.Since(v.lostAt); !v.connected && !v.lostAt.IsZero() && lost > v.maxStale {
		if v.lastErr == nil {
			return fmt.Errorf("%w: feed lost %s ago", ErrStale, lost.Round(time.Millisecond))
		}
		return fmt.Errorf("%w: feed lost %s ago: %w", ErrStale, lost.Round(time.Millisecond), v.lastErr)
	}
	return nil
}

// notJudged is the answer of a Validate that could not judge the token: a
// Result that is never valid (a zero Result would be), and err.
func notJudged(err error) (Result, error) {
	return Result{Reason: token.ReasonMalformed, Detail: "not validated: " + err.Error()}, err
}

// requestError turns the token rules' request errors into the *Error the
// server answers them with.
func requestError(err error) error {
	e := &Error{Code: codes.InvalidArgument, Message: err.Error(), Metadata: map[string]string{"field": "token"}}
	switch {
	case errors.Is(err, token.ErrTokenEmpty):
		e.Reason = reasonName(tokendv1.ErrorReason_ERROR_REASON_TOKEN_EMPTY.String())
	case errors.Is(err, token.ErrTokenTooLarge):
		e.Reason = reasonName(tokendv1.ErrorReason_ERROR_REASON_TOKEN_TOO_LARGE.String())
	case errors.Is(err, token.ErrTokenNotUTF8):
		e.Reason = reasonName(tokendv1.ErrorReason_ERROR_REASON_TOKEN_NOT_UTF8.String())
	default:
		e.Reason = reasonName(tokendv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT.String())
	}
	return e
}

// Status returns the state of the Validator's feed.
func (v *Validator) Status() ValidatorStatus {
	v.mu.Lock()
	defer v.mu.Unlock()
	return ValidatorStatus{
		Mode: v.mode, Ready: v.readyOnce || v.remote, Connected: v.connected || v.remote,
		Version: v.version, LastError: v.lastErr, Stats: v.stats,
	}
}

// Close stops the background feed and waits for it. Validate then
// returns ErrValidatorClosed (a remote Validator keeps working: it has no
// feed). It does not close the Client.
func (v *Validator) Close() error {
	if !v.remote {
		v.closed.Store(true)
	}
	v.stop()
	<-v.done
	return nil
}

// run is the background feed: WatchKeys with reconnections, or polling.
func (v *Validator) run(ctx context.Context) {
	defer close(v.done)
	feed := v.feed
	backoff := newBackoff(v.minBackoff, v.maxBackoff)
	for ctx.Err() == nil {
		if feed == KeyFeedPoll {
			v.setMode("poll")
			v.pollLoop(ctx, backoff)
			return
		}
		v.setMode("watch")
		err := v.watch(ctx, backoff)
		if ctx.Err() != nil {
			return
		}
		if feed == KeyFeedAuto && errors.Is(err, errWatchRefused) {
			v.log.Warn("tokend does not offer WatchKeys; polling GetJWKS (revocations are not seen)", slog.String("error", err.Error()))
			feed = KeyFeedPoll
			backoff.reset()
			continue
		}
		v.lost(err)
		if err != nil {
			v.log.Warn("tokend key watch ended; reconnecting", slog.String("error", err.Error()))
		}
		if !sleep(ctx, backoff.next()) {
			return
		}
	}
}

var errWatchRefused = errors.New("tokend: WatchKeys is not offered by the server")

// watch follows one WatchKeys stream until it ends. A clean end (the
// server stopping, or ending an old stream) returns nil.
func (v *Validator) watch(ctx context.Context, backoff *backoff) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	v.mu.Lock()
	from := v.version
	v.stats.Streams++
	v.mu.Unlock()
	st, err := v.c.WatchKeys(ctx, &tokendv1.WatchKeysRequest{AppId: v.appID, ResumeVersion: from}, grpc.MaxCallRecvMsgSize(watchMaxRecvSize))
	for err == nil {
		var msg *tokendv1.WatchKeysResponse
		if msg, err = st.Recv(); err != nil {
			break
		}
		v.apply(msg)
		backoff.reset()
	}
	var e *Error
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &e) && e.Code == codes.Unimplemented:
		return fmt.Errorf("%w: %w", errWatchRefused, err)
	}
	return err
}

// apply brings the key set and denylist to a WatchKeys message.
func (v *Validator) apply(msg *tokendv1.WatchKeysResponse) {
	apps, deleted := v.decodeApps(msg.GetApps())
	var revs []storage.Revocation
	for _, r := range msg.GetRevocations() {
		if rev, ok := revocationFromProto(r); ok {
			revs = append(revs, rev)
		}
	}
	if msg.GetFullSnapshot() {
		v.keys.store(newKeySet().with(apps, nil))
		d := refresh.NewDenylist()
		d.Add(revs...)
		v.deny.p.Store(d)
	} else {
		v.keys.store(v.keys.p.Load().with(apps, deleted))
		d := v.deny.p.Load()
		d.Add(revs...)
		d.Sweep(v.now())
	}
	v.mu.Lock()
	v.version = msg.GetVersion()
	if msg.GetFullSnapshot() {
		v.stats.Snapshots++
	} else {
		v.stats.Changes++
	}
	v.mu.Unlock()
	v.current()
}

// decodeApps decodes watched apps; an app whose key set cannot be read
// is logged and left as it was.
func (v *Validator) decodeApps(ws []*tokendv1.WatchedApp) (map[string]*appKeys, []string) {
	apps := map[string]*appKeys{}
	var deleted []string
	for _, w := range ws {
		if w.GetDeleted() {
			deleted = append(deleted, w.GetAppId())
			continue
		}
		a, err := appKeysFromProto(w)
		if err != nil {
			v.log.Warn("tokend sent an unreadable key set; keeping the previous one", slog.String("app_id", w.GetAppId()), slog.String("error", err.Error()))
			continue
		}
		apps[w.GetAppId()] = a
	}
	return apps, deleted
}

// pollLoop fetches GetJWKS now and then every poll interval until ctx is
// done. Failures retry with backoff.
func (v *Validator) pollLoop(ctx context.Context, backoff *backoff) {
	for {
		wait := v.pollEvery
		if err := v.fetch(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			v.lost(err)
			v.log.Warn("tokend GetJWKS failed; retrying", slog.String("error", err.Error()))
			wait = min(backoff.next(), v.pollEvery)
		} else {
			backoff.reset()
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

// fetch replaces the key set with GetJWKS's answer.
func (v *Validator) fetch(ctx context.Context) error {
	v.mu.Lock()
	v.stats.Fetches++
	v.mu.Unlock()
	resp, err := v.c.GetJWKS(ctx, &tokendv1.GetJWKSRequest{AppId: v.appID})
	if err != nil {
		return err
	}
	if len(resp.GetApps()) == 0 && resp.GetJwksJson() != `{"keys":[]}` {
		return errors.New("tokend: GetJWKS answered no app policies (a server older than this client)")
	}
	apps, _ := v.decodeApps(resp.GetApps())
	v.keys.store(newKeySet().with(apps, nil))
	v.current()
	return nil
}

// triggerFetch fetches the key set at once for a token whose key or app is
// unknown, when polling and when the last such fetch is older than the
// refresh interval; concurrent callers share one fetch. It reports whether
// a fetch succeeded, so that the token is judged again.
func (v *Validator) triggerFetch(ctx context.Context) bool {
	v.mu.Lock()
	if v.mode != "poll" || v.closed.Load() {
		v.mu.Unlock()
		return false
	}
	if ch := v.fetching; ch != nil {
		v.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.fetchResult == nil
	}
	if !v.lastFetch.IsZero() && time.Since(v.lastFetch) < v.refreshEvery {
		v.mu.Unlock()
		return false
	}
	ch := make(chan struct{})
	v.fetching, v.lastFetch = ch, time.Now()
	v.stats.TriggeredFetches++
	v.mu.Unlock()

	// The fetch is not bound to this caller's context: the callers that
	// share it should not fail because the first one gave up.
	fctx, cancel := context.WithTimeout(context.Background(), v.readyTimeout)
	err := v.fetch(fctx)
	cancel()

	v.mu.Lock()
	v.fetching, v.fetchResult = nil, err
	v.mu.Unlock()
	close(ch)
	return err == nil
}

func (v *Validator) setMode(m string) {
	v.mu.Lock()
	v.mode = m
	v.mu.Unlock()
}

// current records that the key set is current.
func (v *Validator) current() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.connected, v.lostAt, v.lastErr = true, time.Time{}, nil
	if !v.readyOnce {
		v.readyOnce = true
		close(v.ready)
	}
}

// lost records that the feed is down.
func (v *Validator) lost(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.connected || v.lostAt.IsZero() {
		v.lostAt = time.Now()
	}
	v.connected = false
	if err != nil {
		v.lastErr = err
	}
}

// validateRemote asks the server.
func (v *Validator) validateRemote(ctx context.Context, raw string, exp Expect) (Result, error) {
	if !utf8.ValidString(raw) {
		// proto3 cannot carry it: answer as the server would.
		return Result{Reason: token.ReasonMalformed, Detail: "token is not UTF-8"}, requestError(token.ErrTokenNotUTF8)
	}
	resp, err := v.c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: raw, Audience: exp.Audience, AppId: exp.AppID})
	if err != nil {
		return notJudged(err)
	}
	res := Result{Reason: reasonFromProto(resp.GetReason()), Detail: resp.GetDetail(), KeyID: resp.GetKeyId()}
	if !resp.GetValid() && res.Reason == token.ReasonNone {
		res.Reason = token.ReasonMalformed // an invalid answer without reason: never valid
	}
	if c := resp.GetClaims(); c != nil {
		res.Claims = Claims{
			Issuer: c.GetIssuer(), Subject: c.GetSubject(), AppID: c.GetAppId(), Audience: c.GetAudience(),
			IssuedAt: timeOf(c.GetIssuedAt()), NotBefore: timeOf(c.GetNotBefore()), ExpiresAt: timeOf(c.GetExpiresAt()),
			ID: c.GetTokenId(), Extra: c.GetExtra().AsMap(),
		}
	}
	return res, nil
}

func timeOf(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

// reasonFromProto maps the contract's InvalidReason to the rules' Reason
// by name.
func reasonFromProto(r tokendv1.InvalidReason) Reason {
	for reason := token.ReasonNone; ; reason++ {
		name := reason.String()
		if name == "UNKNOWN" {
			return token.ReasonMalformed
		}
		if reasonProto(reason) == r {
			return reason
		}
	}
}

// reasonProto maps a Reason to the contract's InvalidReason by name.
func reasonProto(r Reason) tokendv1.InvalidReason {
	if r == token.ReasonNone {
		return tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED
	}
	if n, ok := tokendv1.InvalidReason_value["INVALID_REASON_"+r.String()]; ok {
		return tokendv1.InvalidReason(n)
	}
	return tokendv1.InvalidReason_INVALID_REASON_MALFORMED
}

// ResultError is the error of a Result: nil when the token is valid, else
// an error that errors.Is matches with the sentinel of its reason
// (ErrExpired, ErrRevoked, ...) and that carries the detail, as
// InvalidTokenError does for a ValidateToken answer.
func ResultError(res Result) error {
	if res.Valid() {
		return nil
	}
	s, ok := invalidReasonSentinels[reasonProto(res.Reason)]
	if !ok {
		s = ErrMalformed
	}
	return fmt.Errorf("%w: %s", s, res.Detail)
}

// backoff is an exponential backoff with jitter.
type backoff struct{ min, max, cur time.Duration }

func newBackoff(minDelay, maxDelay time.Duration) *backoff {
	return &backoff{min: minDelay, max: maxDelay, cur: minDelay}
}

func (b *backoff) reset() { b.cur = b.min }

// next returns the delay to wait now (between cur/2 and cur) and doubles
// cur up to max.
func (b *backoff) next() time.Duration {
	d := b.cur/2 + time.Duration(randFraction()*float64(b.cur/2))
	b.cur = min(b.cur*2, b.max)
	return d
}

// sleep waits d or until ctx is done; false when ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
