package auth

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/tokend/tokend/server/storage"
)

// DirectorySource is what a Directory loads from.
type DirectorySource interface {
	ListCallers(ctx context.Context) ([]storage.Caller, error)
	ListAPIKeys(ctx context.Context) ([]storage.APIKey, error)
}

// Directory authenticates API keys from memory. It is reloaded from the
// store after every change of callers, so a deleted caller stops working at
// once in this process.
type Directory struct {
	src  DirectorySource
	now  func() time.Time
	snap atomic.Pointer[directorySnap]
}

type directorySnap struct {
	byHash map[string]entry
}

type entry struct {
	hash      string
	caller    Caller
	expiresAt time.Time
}

// NewDirectory returns an empty Directory; call Reload to fill it.
func NewDirectory(src DirectorySource, now func() time.Time) *Directory {
	d := &Directory{src: src, now: now}
	d.snap.Store(&directorySnap{byHash: map[string]entry{}})
	return d
}

// Reload reads every caller and API key from the store.
func (d *Directory) Reload(ctx context.Context) error {
	callers, err := d.src.ListCallers(ctx)
	if err != nil {
		return fmt.Errorf("auth: load callers: %w", err)
	}
	keys, err := d.src.ListAPIKeys(ctx)
	if err != nil {
		return fmt.Errorf("auth: load API keys: %w", err)
	}
	byID := make(map[string]Caller, len(callers))
	for _, c := range callers {
		byID[c.ID] = Caller{ID: c.ID, Name: c.Name, Roles: c.Roles, AppIDs: c.AppIDs}
	}
	next := &directorySnap{byHash: make(map[string]entry, len(keys))}
	for _, k := range keys {
		c, ok := byID[k.CallerID]
		if !ok {
			continue
		}
		next.byHash[k.Hash] = entry{hash: k.Hash, caller: c, expiresAt: k.ExpiresAt}
	}
	d.snap.Store(next)
	return nil
}

// Authenticate finds the caller of an API key.
func (d *Directory) Authenticate(key string) (Caller, error) {
	h := HashAPIKey(key)
	e, ok := d.snap.Load().byHash[h]
	if !ok || !equalHash(e.hash, h) {
		return Caller{}, ErrCredentialsInvalid
	}
	if !e.expiresAt.IsZero() && !d.now().Before(e.expiresAt) {
		return Caller{}, ErrCredentialsInvalid
	}
	return e.caller, nil
}

// AuthFunc authenticates a gRPC call from its "authorization: Bearer <key>"
// metadata and puts the Caller in the returned context. It has the shape of
// go-grpc-middleware's auth.AuthFunc.
func (d *Directory) AuthFunc(ctx context.Context) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return ctx, ErrCredentialsMissing
	}
	if len(vals) > 1 {
		return ctx, fmt.Errorf("%w: several authorization values", ErrCredentialsInvalid)
	}
	key, ok := bearer(vals[0])
	if !ok {
		return ctx, fmt.Errorf("%w: want \"Bearer <api key>\"", ErrCredentialsInvalid)
	}
	c, err := d.Authenticate(key)
	if err != nil {
		return ctx, err
	}
	return WithCaller(ctx, c), nil
}
