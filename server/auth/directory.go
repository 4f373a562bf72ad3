package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/tokend/tokend/server/storage"
)

// DirectorySource is what a Directory loads from.
type DirectorySource interface {
	ListCallers(ctx context.Context) ([]storage.Caller, error)
	ListAPIKeys(ctx context.Context) ([]storage.APIKey, error)
}

// Directory authenticates API keys and mTLS identities from memory. It is
// reloaded from the store after every change of callers, so a deleted
// caller stops working at once in this process. Key expiry (the grace of a
// rotated key) is judged at each call with the injected clock.
type Directory struct {
	src  DirectorySource
	now  func() time.Time
	snap atomic.Pointer[directorySnap]

	reloadMu sync.Mutex // one Reload at a time: the last one read last
}

type directorySnap struct {
	byHash     map[apiKeyHash]entry // no hex encoding per call
	byIdentity map[string]Caller
}

// apiKeyHash is the SHA-256 of an API key; HashAPIKey is its hex form.
type apiKeyHash = [sha256.Size]byte

type entry struct {
	hash      apiKeyHash
	caller    Caller
	expiresAt time.Time
}

// NewDirectory returns an empty Directory; call Reload to fill it.
func NewDirectory(src DirectorySource, now func() time.Time) *Directory {
	d := &Directory{src: src, now: now}
	d.snap.Store(&directorySnap{byHash: map[apiKeyHash]entry{}, byIdentity: map[string]Caller{}})
	return d
}

// Reload reads every caller and API key from the store.
func (d *Directory) Reload(ctx context.Context) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	callers, err := d.src.ListCallers(ctx)
	if err != nil {
		return fmt.Errorf("auth: load callers: %w", err)
	}
	keys, err := d.src.ListAPIKeys(ctx)
	if err != nil {
		return fmt.Errorf("auth: load API keys: %w", err)
	}
	byID := make(map[string]Caller, len(callers))
	next := &directorySnap{byHash: make(map[apiKeyHash]entry, len(keys)), byIdentity: map[string]Caller{}}
	for _, c := range callers {
		ac := Caller{ID: c.ID, Name: c.Name, Roles: c.Roles, AppIDs: c.AppIDs}
		byID[c.ID] = ac
		if c.MTLSIdentity != "" {
			next.byIdentity[c.MTLSIdentity] = ac
		}
	}
	for _, k := range keys {
		c, ok := byID[k.CallerID]
		if !ok {
			continue
		}
		var h apiKeyHash
		if n, err := hex.Decode(h[:], []byte(k.Hash)); err != nil || n != len(h) {
			continue // not a HashAPIKey: matches no key
		}
		next.byHash[h] = entry{hash: h, caller: c, expiresAt: k.ExpiresAt}
	}
	d.snap.Store(next)
	return nil
}

// Authenticate finds the caller of an API key.
func (d *Directory) Authenticate(key string) (Caller, error) {
	h := sha256.Sum256([]byte(key))
	e, ok := d.snap.Load().byHash[h]
	if !ok || subtle.ConstantTimeCompare(e.hash[:], h[:]) != 1 {
		return Caller{}, ErrCredentialsInvalid
	}
	if !e.expiresAt.IsZero() && !d.now().Before(e.expiresAt) {
		return Caller{}, fmt.Errorf("%w: API key expired", ErrCredentialsInvalid)
	}
	c := e.caller
	c.Credential = CredentialAPIKey
	return c, nil
}

// AuthenticateIdentity finds the caller of a verified mTLS identity.
func (d *Directory) AuthenticateIdentity(identity string) (Caller, error) {
	c, ok := d.snap.Load().byIdentity[identity]
	if !ok {
		return Caller{}, fmt.Errorf("%w: no caller has this mTLS identity", ErrCredentialsInvalid)
	}
	c.Credential = CredentialMTLS
	return c, nil
}

// AuthFunc authenticates a gRPC call and puts the Caller in the returned
// context. It has the shape of go-grpc-middleware's auth.AuthFunc.
//
// A call authenticates with a client certificate verified by the server's
// client CA (its URI SAN, else its DNS SAN, is looked up as an mTLS
// identity), with "authorization: Bearer <api key>", or with both. When both
// are present they must name the same caller; a verified certificate whose
// identity maps to no caller is refused even with a good API key, so that
// an unknown workload never passes as another.
func (d *Directory) AuthFunc(ctx context.Context) (context.Context, error) {
	identity, hasCert, err := peerIdentity(ctx)
	if err != nil {
		return ctx, err
	}
	key, hasKey, err := bearerKey(ctx)
	if err != nil {
		return ctx, err
	}
	var c Caller
	switch {
	case hasCert:
		if c, err = d.AuthenticateIdentity(identity); err != nil {
			return ctx, err
		}
		if hasKey {
			kc, err := d.Authenticate(key)
			if err != nil {
				return ctx, err
			}
			if kc.ID != c.ID {
				return ctx, fmt.Errorf("%w: the API key and the client certificate belong to different callers", ErrCredentialsInvalid)
			}
		}
	case hasKey:
		if c, err = d.Authenticate(key); err != nil {
			return ctx, err
		}
	default:
		return ctx, ErrCredentialsMissing
	}
	return WithCaller(ctx, c), nil
}

// peerIdentity returns the identity of the call's verified client
// certificate, if any. A certificate that was not verified against the
// client CA (none is configured) is ignored.
func peerIdentity(ctx context.Context) (string, bool, error) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return "", false, nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return "", false, nil
	}
	id, err := CertIdentity(info.State.VerifiedChains[0][0])
	if err != nil {
		return "", false, err
	}
	return id, true, nil
}

// bearerKey returns the API key of the call's authorization metadata.
func bearerKey(ctx context.Context) (string, bool, error) {
	vals := metadata.ValueFromIncomingContext(ctx, "authorization") // copies only these values
	switch {
	case len(vals) == 0:
		return "", false, nil
	case len(vals) > 1:
		return "", false, fmt.Errorf("%w: several authorization values", ErrCredentialsInvalid)
	}
	key, ok := bearer(vals[0])
	if !ok {
		return "", false, fmt.Errorf("%w: want \"Bearer <api key>\"", ErrCredentialsInvalid)
	}
	return key, true, nil
}

// Run reloads the Directory every interval until ctx is done, so that
// changes made by other replicas sharing the store (a deleted caller, a
// rotated key) reach this one within an interval. A failed reload keeps
// the previous snapshot and is logged.
func (d *Directory) Run(ctx context.Context, interval time.Duration, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := d.Reload(ctx); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "reloading callers failed; keeping the previous ones", slog.String("error", err.Error()))
		}
	}
}
