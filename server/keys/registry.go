package keys

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/token"
)

// Registry is the in-memory view of every app and its keys that validation
// and issuing read on each call. Reads are lock-free (an immutable snapshot
// behind an atomic pointer); writers replace the snapshot copy-on-write.
type Registry struct {
	kek *KEK

	mu   sync.Mutex // serialises writers
	snap atomic.Pointer[snapshot]

	onChange atomic.Pointer[func(appIDs []string)] // see OnChange
}

var (
	_ token.KeySource    = (*Registry)(nil)
	_ token.SignerSource = (*Registry)(nil)
)

type snapshot struct {
	apps  map[string]*appEntry
	byKID map[string]*keyEntry
	gen   uint64 // one more than the snapshot it replaced (Generation)
}

type appEntry struct {
	app    storage.App
	policy token.AppPolicy
	keys   []*keyEntry // newest first
}

type keyEntry struct {
	rec    storage.Key
	jwk    jose.JSONWebKey
	verify token.VerifyKey
	signer *token.SigningKey // nil for public-only keys and keys that can no longer sign
}

// NewRegistry returns an empty registry that opens sealed keys with kek.
func NewRegistry(kek *KEK) *Registry {
	r := &Registry{kek: kek}
	r.snap.Store(&snapshot{apps: map[string]*appEntry{}, byKID: map[string]*keyEntry{}})
	return r
}

// Source is what Load reads.
type Source interface {
	ListApps(ctx context.Context, afterID string, limit int) ([]storage.App, error)
	ListAllKeys(ctx context.Context) ([]storage.Key, error)
}

// Load replaces the registry's content with every app and key of the store.
// It fails when a stored private key cannot be opened with the KEK, so that
// a replica with the wrong KEK refuses to start.
func (r *Registry) Load(ctx context.Context, src Source) error {
	apps := map[string]*appEntry{}
	after := ""
	for {
		page, err := src.ListApps(ctx, after, 500)
		if err != nil {
			return fmt.Errorf("keys: load apps: %w", err)
		}
		for _, a := range page {
			apps[a.ID] = newAppEntry(a)
			after = a.ID
		}
		if len(page) < 500 {
			break
		}
	}
	all, err := src.ListAllKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: load keys: %w", err)
	}
	byApp := map[string][]storage.Key{}
	for _, k := range all {
		byApp[k.AppID] = append(byApp[k.AppID], k)
	}
	next := &snapshot{apps: apps, byKID: map[string]*keyEntry{}}
	for appID, ks := range byApp {
		e, ok := apps[appID]
		if !ok {
			continue
		}
		if err := r.fillKeys(e, ks); err != nil {
			return err
		}
		for _, k := range e.keys {
			next.byKID[k.rec.ID] = k
		}
	}
	r.mu.Lock()
	old := r.snap.Load()
	next.gen = old.gen + 1
	r.snap.Store(next)
	r.changed(loadedIDs(old, next)...)
	r.mu.Unlock()
	return nil
}

func newAppEntry(a storage.App) *appEntry {
	return &appEntry{app: a, policy: token.AppPolicy{
		ID: a.ID, Enabled: a.Enabled, MaxTokenTTL: a.MaxTokenTTL, DefaultTTL: a.DefaultTokenTTL,
	}}
}

// fillKeys builds the key entries of an app, newest first.
func (r *Registry) fillKeys(e *appEntry, ks []storage.Key) error {
	ks = append([]storage.Key(nil), ks...)
	sort.Slice(ks, func(i, j int) bool {
		if !ks[i].CreatedAt.Equal(ks[j].CreatedAt) {
			return ks[i].CreatedAt.After(ks[j].CreatedAt)
		}
		return ks[i].ID > ks[j].ID
	})
	e.keys = e.keys[:0]
	for _, k := range ks {
		if k.State == storage.KeyRetired || !k.RevokedAt.IsZero() {
			continue
		}
		ke, err := r.newKeyEntry(k)
		if err != nil {
			return err
		}
		e.keys = append(e.keys, ke)
	}
	return nil
}

func (r *Registry) newKeyEntry(k storage.Key) (*keyEntry, error) {
	jwk, err := ParsePublicJWK(k.PublicJWK)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: %w", k.ID, err)
	}
	alg := jose.SignatureAlgorithm(k.Algorithm)
	ke := &keyEntry{rec: k, jwk: jwk, verify: token.VerifyKey{
		ID: k.ID, AppID: k.AppID, Algorithm: alg, Public: jwk.Key, VerifyUntil: k.VerifyUntil,
	}}
	if k.SealedPrivateKey != "" && (k.State == storage.KeyActive || k.State == storage.KeyNext) {
		priv, err := r.kek.Open(k.AppID, k.ID, k.SealedPrivateKey)
		if err != nil {
			return nil, err
		}
		sk, err := token.NewSigningKey(k.ID, alg, priv, k.VerifyUntil)
		if err != nil {
			return nil, fmt.Errorf("keys: key %s: %w", k.ID, err)
		}
		ke.signer = &sk
	}
	return ke, nil
}

// PutApp adds or replaces an app (its keys are kept).
func (r *Registry) PutApp(a storage.App) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	next := old.clone()
	e := newAppEntry(a)
	if prev, ok := old.apps[a.ID]; ok {
		e.keys = prev.keys
	}
	next.apps[a.ID] = e
	r.snap.Store(next)
	r.changed(a.ID)
}

// PutKeys replaces the keys of an app with ks (its current stored keys).
func (r *Registry) PutKeys(appID string, ks []storage.Key) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	prev, ok := old.apps[appID]
	if !ok {
		return fmt.Errorf("keys: put keys of app %q: %w", appID, storage.ErrNotFound)
	}
	e := &appEntry{app: prev.app, policy: prev.policy}
	if err := r.fillKeys(e, ks); err != nil {
		return err
	}
	next := old.clone()
	for _, k := range prev.keys {
		delete(next.byKID, k.rec.ID)
	}
	for _, k := range e.keys {
		next.byKID[k.rec.ID] = k
	}
	next.apps[appID] = e
	r.snap.Store(next)
	r.changed(appID)
	return nil
}

func (s *snapshot) clone() *snapshot {
	n := &snapshot{apps: make(map[string]*appEntry, len(s.apps)+1), byKID: make(map[string]*keyEntry, len(s.byKID)+1), gen: s.gen + 1}
	for k, v := range s.apps {
		n.apps[k] = v
	}
	for k, v := range s.byKID {
		n.byKID[k] = v
	}
	return n
}

// App returns the policy of an app.
func (r *Registry) App(appID string) (token.AppPolicy, bool) {
	e, ok := r.snap.Load().apps[appID]
	if !ok {
		return token.AppPolicy{}, false
	}
	return e.policy, true
}

// StoredApp returns the app record held in memory.
func (r *Registry) StoredApp(appID string) (storage.App, bool) {
	e, ok := r.snap.Load().apps[appID]
	if !ok {
		return storage.App{}, false
	}
	return e.app, true
}

// Key returns the verification key with that kid.
func (r *Registry) Key(kid string) (token.VerifyKey, bool) {
	k, ok := r.snap.Load().byKID[kid]
	if !ok {
		return token.VerifyKey{}, false
	}
	return k.verify, true
}

// AppKeys returns the verification keys of an app.
func (r *Registry) AppKeys(appID string) []token.VerifyKey {
	e, ok := r.snap.Load().apps[appID]
	if !ok {
		return nil
	}
	out := make([]token.VerifyKey, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k.verify)
	}
	return out
}

// SigningKey returns the key of the app that signs at time now: the latest
// activated key holding a private key whose verification window is still
// open (see canSign).
func (r *Registry) SigningKey(appID string, now time.Time) (token.SigningKey, bool) {
	e, ok := r.snap.Load().apps[appID]
	if !ok {
		return token.SigningKey{}, false
	}
	if k := activeKey(e, now); k != nil {
		return *k.signer, true
	}
	return token.SigningKey{}, false
}

// activeKey is the key that signs at now (nil when none).
func activeKey(e *appEntry, now time.Time) *keyEntry {
	var best *keyEntry
	for _, k := range e.keys {
		if k.signer != nil && canSign(k.rec, now) && (best == nil || signsBefore(k.rec, best.rec)) {
			best = k
		}
	}
	return best
}

// KeyView is a key with its state as of a given time.
type KeyView struct {
	storage.Key
	// Effective is the state at the time asked: a next key whose activation
	// time has come is active, the key it replaced verify-only, a key past
	// its verification window retired.
	Effective storage.KeyState
}

// Keys returns the keys of an app that validate at now (next, active,
// verify-only; newest first) with their state at now.
func (r *Registry) Keys(appID string, now time.Time) ([]KeyView, bool) {
	e, ok := r.snap.Load().apps[appID]
	if !ok {
		return nil, false
	}
	recs := make([]storage.Key, len(e.keys))
	signer := -1
	active := activeKey(e, now)
	for i, k := range e.keys {
		recs[i] = k.rec
		if k == active {
			signer = i
		}
	}
	out := make([]KeyView, 0, len(recs))
	for i, k := range recs {
		if st := stateAt(recs, i, signer, now); st != storage.KeyRetired {
			out = append(out, KeyView{Key: k, Effective: st})
		}
	}
	return out, true
}

// JWKS returns the JSON Web Key Set of an app, or of every app when appID is
// empty: the public keys that validate at now (next, active, verify-only).
// It reports false when the app is unknown.
func (r *Registry) JWKS(appID string, now time.Time) ([]byte, bool) {
	if appID == "" {
		return r.JWKSOf(r.AppIDs(), now), true
	}
	if _, ok := r.snap.Load().apps[appID]; !ok {
		return nil, false
	}
	return r.JWKSOf([]string{appID}, now), true
}

// JWKSOf returns the JSON Web Key Set of the listed apps (unknown ids are
// skipped), in the order given.
func (r *Registry) JWKSOf(appIDs []string, now time.Time) []byte {
	return r.snap.Load().jwks(appIDs, now)
}

func (s *snapshot) jwks(appIDs []string, now time.Time) []byte {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, id := range appIDs {
		e, ok := s.apps[id]
		if !ok {
			continue
		}
		for _, k := range e.keys {
			if !k.rec.VerifyUntil.IsZero() && !now.Before(k.rec.VerifyUntil) {
				continue
			}
			set.Keys = append(set.Keys, k.jwk)
		}
	}
	b, err := json.Marshal(set)
	if err != nil { // cannot happen: every key was parsed from JSON
		panic(fmt.Sprintf("keys: encode JWKS: %v", err))
	}
	return b
}

// AppIDs returns the ids of every app, sorted.
func (r *Registry) AppIDs() []string {
	s := r.snap.Load()
	ids := make([]string, 0, len(s.apps))
	for id := range s.apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// PutAppIfNewer adds an app the registry lacks, or replaces it when a was
// updated after the copy held (another replica changed it). It reports
// whether it changed anything.
func (r *Registry) PutAppIfNewer(a storage.App) bool {
	if e, ok := r.snap.Load().apps[a.ID]; ok && !a.UpdatedAt.After(e.app.UpdatedAt) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	if e, ok := old.apps[a.ID]; ok && !a.UpdatedAt.After(e.app.UpdatedAt) {
		return false
	}
	next := old.clone()
	e := newAppEntry(a)
	if prev, ok := old.apps[a.ID]; ok {
		e.keys = prev.keys
	}
	next.apps[a.ID] = e
	r.snap.Store(next)
	r.changed(a.ID)
	return true
}

// keysDiffer reports whether the keys held for an app differ from ks (its
// stored keys): the registry holds every stored key that is neither
// retired nor revoked.
func (r *Registry) keysDiffer(appID string, ks []storage.Key) bool {
	e, ok := r.snap.Load().apps[appID]
	if !ok {
		return true
	}
	held := make(map[string]storage.Key, len(e.keys))
	for _, k := range e.keys {
		held[k.rec.ID] = k.rec
	}
	n := 0
	for _, k := range ks {
		if k.State == storage.KeyRetired || !k.RevokedAt.IsZero() {
			continue
		}
		n++
		if h, ok := held[k.ID]; !ok || !sameKey(h, k) {
			return true
		}
	}
	return n != len(held)
}
