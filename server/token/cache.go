package token

import (
	"crypto"
	"hash/maphash"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Generational is implemented by a KeySource whose apps and keys change
// while it is used (the server's key registry, a client's JWKS cache).
// Generation returns a number that changes whenever any app or key
// changes. The validation cache (WithCache) keeps a verdict only while
// the generation it was reached under is current; with a KeySource that
// does not implement Generational it looks the app and the key up again
// on every hit instead.
type Generational interface {
	Generation() uint64
}

// WithCache gives the Validator a cache of up to entries valid tokens
// (zero or less: no cache). A token seen again is answered without
// parsing it or verifying its signature, as long as:
//
//   - it is the very same token (the whole string is compared);
//   - the apps and keys have not changed since (the KeySource's
//     Generation, see Generational): a key revoked or rotated out, an app
//     disabled or its policy changed, drop every verdict;
//   - the time rules still hold now: exp, nbf and iat with the leeway, and
//     the key's VerifyUntil, are judged again on every hit;
//   - the Denylist, asked again on every hit, does not list it.
//
// The request's Expect (audience, app) is judged on every hit too. Only
// valid verdicts are kept: a refusal is never cached, so a token that is
// not yet valid, or whose key is not known yet, is judged afresh every
// time, and a flood of bad tokens cannot evict good ones. Eviction is
// CLOCK (second chance) in 16 shards.
//
// Results served from the cache are copies, but the values inside
// Claims.Extra (nested objects and arrays) are shared: do not modify them.
func WithCache(entries int) ValidatorOption {
	return func(v *Validator) {
		if entries <= 0 {
			v.cache = nil
			return
		}
		v.cache = newCache(entries)
	}
}

const cacheShards = 16

// cache maps tokens to valid verdicts. Entries are immutable once stored,
// except for their CLOCK reference bit.
type cache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu   sync.RWMutex
	m    map[uint64]*cacheEntry // by maphash of the token
	ring []*cacheEntry          // CLOCK ring, len <= capacity
	cap  int
	hand int
}

type cacheEntry struct {
	token string
	hash  uint64
	slot  int // index in ring
	res   Result
	// The facts the verdict rests on, judged again on each hit.
	gen       uint64
	key       VerifyKey
	app       AppPolicy
	validFrom time.Time // earliest instant the time rules allow
	validTo   time.Time // first instant they no longer allow
	ref       atomic.Bool
}

func newCache(entries int) *cache {
	c := &cache{seed: maphash.MakeSeed()}
	per := max(1, (entries+cacheShards-1)/cacheShards)
	for i := range c.shards {
		c.shards[i] = cacheShard{m: make(map[uint64]*cacheEntry), cap: per}
	}
	return c
}

func (c *cache) shard(h uint64) *cacheShard { return &c.shards[h%cacheShards] }

// get returns the entry of raw, or nil.
func (c *cache) get(raw string) *cacheEntry {
	h := maphash.String(c.seed, raw)
	s := c.shard(h)
	s.mu.RLock()
	e := s.m[h]
	s.mu.RUnlock()
	if e == nil || e.token != raw {
		return nil
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return e
}

// put stores e, replacing the entry of the same token or evicting one
// that was not used since the hand last passed.
func (c *cache) put(e *cacheEntry) {
	e.hash = maphash.String(c.seed, e.token)
	s := c.shard(e.hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[e.hash]; ok {
		e.slot = old.slot
		s.ring[e.slot] = e
		s.m[e.hash] = e
		return
	}
	if len(s.ring) < s.cap {
		e.slot = len(s.ring)
		s.ring = append(s.ring, e)
		s.m[e.hash] = e
		return
	}
	for {
		victim := s.ring[s.hand]
		if victim.ref.Swap(false) {
			s.hand = (s.hand + 1) % len(s.ring)
			continue
		}
		delete(s.m, victim.hash)
		e.slot = s.hand
		s.ring[s.hand] = e
		s.m[e.hash] = e
		s.hand = (s.hand + 1) % len(s.ring)
		return
	}
}

// len returns the number of entries (tests).
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// generation returns the KeySource's generation, or 0 when it has none.
func (v *Validator) generation() uint64 {
	if g, ok := v.keys.(Generational); ok {
		return g.Generation()
	}
	return 0
}

// recall answers raw from the cache. ok is false when the cache cannot
// answer: the token must then be judged in full.
func (v *Validator) recall(raw string, want Expect) (Result, bool) {
	e := v.cache.get(raw)
	if e == nil || !v.stillTrusted(e) {
		return Result{}, false
	}
	now := v.now()
	if now.Before(e.validFrom) || !now.Before(e.validTo) {
		return Result{}, false // let the full rules say why
	}
	// Every rule up to the audience held when the verdict was reached, and
	// still holds; what is left gives the answer the full rules would.
	cl := &e.res.Claims
	if want.AppID != "" && cl.AppID != want.AppID {
		return refuse(ReasonAppMismatch, appMismatch(cl.AppID, want.AppID)), true
	}
	res := e.res
	res.Claims.Audience = slices.Clone(cl.Audience)
	if cl.Extra != nil {
		res.Claims.Extra = maps.Clone(cl.Extra)
	}
	if want.Audience != "" && !slices.Contains(cl.Audience, want.Audience) {
		return res.refused(ReasonAudienceMismatch, audienceMismatch(want.Audience)), true
	}
	if v.deny != nil && v.deny.Revoked(cl.AppID, cl.ID, cl.Subject, cl.IssuedAt) {
		return res.refused(ReasonRevoked, revokedDetail), true
	}
	return res, true
}

// stillTrusted reports whether the app and key behind e are unchanged.
func (v *Validator) stillTrusted(e *cacheEntry) bool {
	if g, ok := v.keys.(Generational); ok {
		return g.Generation() == e.gen
	}
	app, ok := v.keys.App(e.app.ID)
	if !ok || app != e.app {
		return false
	}
	k, ok := v.keys.Key(e.key.ID)
	if !ok || k.AppID != e.key.AppID || k.Algorithm != e.key.Algorithm || !k.VerifyUntil.Equal(e.key.VerifyUntil) {
		return false
	}
	pub, ok := k.Public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(e.key.Public)
}

// remember caches a valid verdict reached at now under generation gen.
func (v *Validator) remember(raw string, res Result, key VerifyKey, app AppPolicy, cs *claimSet, gen uint64, now time.Time) {
	e := &cacheEntry{token: raw, res: res, gen: gen, key: key, app: app}
	// The caller owns res: keep copies of what it could change.
	e.res.Claims.Audience = slices.Clone(res.Claims.Audience)
	if res.Claims.Extra != nil {
		e.res.Claims.Extra = maps.Clone(res.Claims.Extra)
	}
	// The inverse of the time rules of validate.
	e.validFrom = cs.iat.Add(-v.leeway)
	if cs.has(hasNbf) {
		from := cs.nbf.Add(-v.leeway)
		if cs.nbf.After(cs.iat) {
			from = cs.nbf
		}
		if from.After(e.validFrom) {
			e.validFrom = from
		}
	}
	e.validTo = cs.exp.Add(v.leeway)
	if !key.VerifyUntil.IsZero() && key.VerifyUntil.Before(e.validTo) {
		e.validTo = key.VerifyUntil
	}
	if now.Before(e.validFrom) || !now.Before(e.validTo) {
		return // cannot happen for a valid verdict; never cache a doubt
	}
	v.cache.put(e)
}
