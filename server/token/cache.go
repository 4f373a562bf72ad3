package token

import (
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
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
//   - it is the very same token (the SHA-256 of the whole string is
//     compared);
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

// The cache is built to cost the garbage collector nothing, since it is
// most of a busy server's live heap: an entry is a slot of scalars, the
// token's SHA-256 and the strings of its verdict packed into a fixed
// array inside the slot (see pack), so a shard's ring of slots and its
// index hold no pointer at all and a mark phase skips them whatever the
// number of entries. Keeping the digest rather than the token keeps
// entries small (~250 bytes) and keeps bearer tokens out of the heap
// once judged; hashing costs ~0.3 µs a lookup.
// The rare parts that hold pointers (extra claims; the app and key of a
// KeySource that is not Generational; strings too long for the slot) sit
// in a per-shard side table, by slot number, that is empty otherwise.

// cache maps tokens, by their SHA-256, to valid verdicts.
type cache struct {
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu    sync.RWMutex
	index map[uint64]int32 // by the first 8 bytes of the digest: slot number
	slots []cacheSlot      // CLOCK ring, len <= cap
	refs  []atomic.Bool    // CLOCK reference bits, by slot
	side  map[int32]*cacheSide
	cap   int
	hand  int
}

// slotData is the room for a verdict's packed strings inside its slot:
// enough for the claims tokend issues (issuer, a subject of up to ~60
// bytes, app, token and key ids, a few audiences).
const slotData = 166

// cacheSlot is one verdict; it holds no pointer. Times are Unix
// nanoseconds: a valid verdict's instants all lie within a token
// lifetime of now.
type cacheSlot struct {
	sum [sha256.Size]byte // of the token
	gen uint64
	iat int64
	nbf int64
	exp int64
	// The facts the verdict rests on, judged again on each hit.
	validFrom int64 // earliest instant the time rules allow
	validTo   int64 // first instant they no longer allow
	hasNbf    bool
	hasSide   bool  // the shard's side table has an entry for the slot
	n         uint8 // bytes of data used, when the strings fit
	data      [slotData]byte
}

// cacheSide holds what only some verdicts need.
type cacheSide struct {
	data  string // the packed strings, when they do not fit in the slot
	extra map[string]any
	// The app and the key the verdict was reached with, for a KeySource
	// that is not Generational.
	key VerifyKey
	app AppPolicy
}

// cacheEntry is a verdict as the cache takes and gives it.
type cacheEntry struct {
	token string
	res   Result
	gen   uint64
	// Kept only for a KeySource that is not Generational.
	key     VerifyKey
	app     AppPolicy
	trusted bool // key and app are set

	validFrom time.Time
	validTo   time.Time
}

// pack encodes the strings of a valid verdict into one string (see
// appendPacked).
func pack(r *Result) string { return string(appendPacked(nil, r)) }

// appendPacked appends the strings of a valid verdict to b: for each of
// iss, sub, aid, jti, kid and each audience its length as a uvarint and
// its bytes, the audiences preceded by their count.
func appendPacked(b []byte, r *Result) []byte {
	c := &r.Claims
	for _, s := range [...]string{c.Issuer, c.Subject, c.AppID, c.ID, r.KeyID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Audience)))
	for _, a := range c.Audience {
		b = binary.AppendUvarint(b, uint64(len(a)))
		b = append(b, a...)
	}
	return b
}

// unpack is the inverse of pack: the strings are substrings of data, the
// audience a new slice.
func unpack(data string, r *Result) {
	rest := data
	next := func() string {
		l, n := uvarint(rest)
		s := rest[n : n+int(l)]
		rest = rest[n+int(l):]
		return s
	}
	c := &r.Claims
	c.Issuer, c.Subject, c.AppID, c.ID, r.KeyID = next(), next(), next(), next(), next()
	count, n := uvarint(rest)
	rest = rest[n:]
	if count > 0 {
		c.Audience = make([]string, count)
		for i := range c.Audience {
			c.Audience[i] = next()
		}
	}
}

// uvarint reads a uvarint written by pack.
func uvarint(s string) (uint64, int) {
	var x uint64
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x80 {
			return x | uint64(b)<<(7*i), i + 1
		}
		x |= uint64(b&0x7f) << (7 * i)
	}
	return x, len(s) // not reached: pack wrote s
}

// inNanosRange reports whether every instant that is not zero can be
// held in Unix nanoseconds (years 1678 to 2262, with a margin).
func inNanosRange(ts ...time.Time) bool {
	for _, t := range ts {
		if y := t.Year(); !t.IsZero() && (y < 1680 || y > 2260) {
			return false
		}
	}
	return true
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// digest is the SHA-256 of a token and its index key.
func digest(raw string) ([sha256.Size]byte, uint64) {
	// Hashing reads the bytes of the string in place.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw)))
	return sum, binary.LittleEndian.Uint64(sum[:8])
}

func newCache(entries int) *cache {
	c := &cache{}
	per := max(1, (entries+cacheShards-1)/cacheShards)
	for i := range c.shards {
		c.shards[i] = cacheShard{index: make(map[uint64]int32), cap: per}
	}
	return c
}

func (c *cache) shard(h uint64) *cacheShard { return &c.shards[h%cacheShards] }

// get returns the verdict on raw, or false.
func (c *cache) get(raw string) (cacheEntry, bool) {
	sum, h := digest(raw)
	s := c.shard(h)
	s.mu.RLock()
	i, ok := s.index[h]
	var sl cacheSlot
	var side *cacheSide
	if ok {
		sl = s.slots[i]
		if sl.hasSide {
			side = s.side[i]
		}
		if ref := &s.refs[i]; !ref.Load() {
			ref.Store(true)
		}
	}
	s.mu.RUnlock()
	if !ok || sl.sum != sum {
		return cacheEntry{}, false
	}
	e := cacheEntry{
		token:     raw,
		gen:       sl.gen,
		validFrom: fromNanos(sl.validFrom),
		validTo:   fromNanos(sl.validTo),
	}
	if side != nil && side.data != "" {
		unpack(side.data, &e.res)
	} else {
		unpack(string(sl.data[:sl.n]), &e.res)
	}
	cl := &e.res.Claims
	cl.IssuedAt, cl.ExpiresAt = fromNanos(sl.iat), fromNanos(sl.exp)
	if sl.hasNbf {
		cl.NotBefore = fromNanos(sl.nbf)
	}
	if side != nil {
		cl.Extra = side.extra
		e.key, e.app, e.trusted = side.key, side.app, side.key.Public != nil
	}
	return e, true
}

// put stores e, replacing the verdict of the token with the same key or
// evicting one that was not used since the hand last passed. It stores
// nothing when e's instants are out of range.
func (c *cache) put(e *cacheEntry) {
	cl := &e.res.Claims
	if !inNanosRange(cl.IssuedAt, cl.ExpiresAt, cl.NotBefore, e.validFrom, e.validTo) {
		return
	}
	sum, h := digest(e.token)
	sl := cacheSlot{sum: sum, gen: e.gen}
	sl.iat, sl.exp = cl.IssuedAt.UnixNano(), cl.ExpiresAt.UnixNano()
	sl.validFrom, sl.validTo = e.validFrom.UnixNano(), e.validTo.UnixNano()
	if !cl.NotBefore.IsZero() {
		sl.hasNbf, sl.nbf = true, cl.NotBefore.UnixNano()
	}
	var side *cacheSide
	if packed := appendPacked(sl.data[:0], &e.res); len(packed) <= slotData {
		sl.n = uint8(len(packed))
	} else {
		side = &cacheSide{data: string(packed)}
	}
	if cl.Extra != nil || e.trusted {
		if side == nil {
			side = &cacheSide{}
		}
		side.extra, side.key, side.app = cl.Extra, e.key, e.app
	}
	sl.hasSide = side != nil

	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[h]
	switch {
	case ok:
	case len(s.slots) < s.cap:
		i = int32(len(s.slots))
		s.index[h] = i
		s.slots = append(s.slots, cacheSlot{})
		if len(s.refs) < len(s.slots) {
			s.refs = append(s.refs, atomic.Bool{})
		}
	default:
		for s.refs[s.hand].Swap(false) {
			s.hand = (s.hand + 1) % len(s.slots)
		}
		i = int32(s.hand)
		delete(s.index, binary.LittleEndian.Uint64(s.slots[i].sum[:8]))
		s.index[h] = i
		s.hand = (s.hand + 1) % len(s.slots)
	}
	s.slots[i] = sl
	switch {
	case side != nil:
		if s.side == nil {
			s.side = make(map[int32]*cacheSide)
		}
		s.side[i] = side
	case s.side != nil:
		delete(s.side, i)
	}
}

// len returns the number of entries (tests).
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.index)
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
	e, ok := v.cache.get(raw)
	if !ok || !v.stillTrusted(&e) {
		return Result{}, false
	}
	now := v.now()
	if now.Before(e.validFrom) || !now.Before(e.validTo) {
		return Result{}, false // let the full rules say why
	}
	// Every rule up to the audience held when the verdict was reached, and
	// still holds; what is left gives the answer the full rules would.
	res := e.res
	cl := &res.Claims
	if want.AppID != "" && cl.AppID != want.AppID {
		return refuse(ReasonAppMismatch, appMismatch(cl.AppID, want.AppID)), true
	}
	if cl.Extra != nil {
		cl.Extra = maps.Clone(cl.Extra)
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
	if !e.trusted {
		return false
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
	e := &cacheEntry{token: raw, res: res, gen: gen}
	if _, ok := v.keys.(Generational); !ok {
		e.key, e.app, e.trusted = key, app, key.Public != nil
	}
	// The caller owns res: keep a copy of what it could change (pack
	// copies the strings and the audience).
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
