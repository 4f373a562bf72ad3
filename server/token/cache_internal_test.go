package token

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestCacheBoundedClock: the cache never holds more than its capacity, and
// CLOCK gives entries used since the hand last passed a second chance.
func TestCacheBoundedClock(t *testing.T) {
	c := newCache(cacheShards * 4) // 4 per shard
	now := time.Now()
	put := func(tok string) {
		c.put(&cacheEntry{token: tok, validFrom: now, validTo: now.Add(time.Hour), res: Result{Claims: Claims{IssuedAt: now, ExpiresAt: now.Add(time.Hour)}}})
	}
	has := func(tok string) bool { _, ok := c.get(tok); return ok }
	var hot []string
	for i := range 1000 {
		tok := fmt.Sprintf("token-%d", i)
		put(tok)
		if i < 3 { // fewer than a shard's capacity, wherever they land
			hot = append(hot, tok)
		}
		for _, h := range hot { // used all along: never evicted
			if i >= len(hot) && !has(h) {
				t.Fatalf("after %d puts the hot entry %s is gone", i+1, h)
			}
		}
		if n := c.len(); n > cacheShards*4 {
			t.Fatalf("after %d puts the cache holds %d entries, capacity %d", i+1, n, cacheShards*4)
		}
	}
	if !has("token-999") {
		t.Error("the last entry put is missing")
	}
	// Replacing an entry keeps one entry for it.
	n := c.len()
	put("token-999")
	if c.len() != n {
		t.Errorf("putting an existing token again: %d entries, was %d", c.len(), n)
	}
}

// TestPackRoundTrip: unpack gives back every string pack was given, also
// empty ones, long ones (multi-byte lengths) and any number of audiences.
func TestPackRoundTrip(t *testing.T) {
	long := strings.Repeat("é", 300)
	for _, r := range []Result{
		{},
		{KeyID: "k1", Claims: Claims{Issuer: "tokend", Subject: "user-1", AppID: "app_1", ID: "jti"}},
		{KeyID: long, Claims: Claims{Issuer: "", Subject: long, AppID: "a", Audience: []string{"", long, "svc"}}},
		{Claims: Claims{Audience: []string{"one"}}},
	} {
		var got Result
		unpack(pack(&r), &got)
		if !reflect.DeepEqual(got, r) {
			t.Errorf("unpack(pack(%+v)) = %+v", r, got)
		}
	}
}

// TestCacheSkipsInstantsOutOfRange: a verdict whose instants cannot be
// held in Unix nanoseconds is not cached (it is judged in full each time).
func TestCacheSkipsInstantsOutOfRange(t *testing.T) {
	c := newCache(cacheShards)
	now := time.Now()
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, e := range map[string]cacheEntry{
		"exp":     {token: "a", validFrom: now, validTo: now.Add(time.Hour), res: Result{Claims: Claims{IssuedAt: now, ExpiresAt: far}}},
		"validTo": {token: "b", validFrom: now, validTo: far, res: Result{Claims: Claims{IssuedAt: now, ExpiresAt: now.Add(time.Hour)}}},
		"nbf":     {token: "c", validFrom: now, validTo: now.Add(time.Hour), res: Result{Claims: Claims{IssuedAt: now, NotBefore: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), ExpiresAt: now.Add(time.Hour)}}},
	} {
		c.put(&e)
		if _, ok := c.get(e.token); ok {
			t.Errorf("%s out of range: the verdict was cached", name)
		}
	}
	ok := cacheEntry{token: "d", validFrom: now, validTo: now.Add(time.Hour), res: Result{Claims: Claims{IssuedAt: now, ExpiresAt: now.Add(time.Hour)}}}
	c.put(&ok)
	if got, found := c.get("d"); !found || !got.res.Claims.ExpiresAt.Equal(now.Add(time.Hour)) || !got.res.Claims.NotBefore.IsZero() {
		t.Errorf("in range: get = %+v, %v", got.res.Claims, found)
	}
}

// TestCacheSlotHoldsNoPointers: the ring of slots is pointer-free, so the
// garbage collector never scans it, however many entries it holds.
func TestCacheSlotHoldsNoPointers(t *testing.T) {
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, path string) {
		switch ty.Kind() {
		case reflect.Pointer, reflect.String, reflect.Slice, reflect.Map, reflect.Interface,
			reflect.Func, reflect.Chan, reflect.UnsafePointer:
			t.Errorf("cacheSlot%s is a %s: the collector would scan every slot", path, ty.Kind())
		case reflect.Array:
			walk(ty.Elem(), path+"[]")
		case reflect.Struct:
			for i := range ty.NumField() {
				walk(ty.Field(i).Type, path+"."+ty.Field(i).Name)
			}
		}
	}
	walk(reflect.TypeFor[cacheSlot](), "")
}

// TestCacheSideTable: strings too long for a slot, extra claims and a
// KeySource's key and app go to the side table and come back; an entry
// put over one that had a side entry does not inherit it, and evicted
// entries leave no side entry behind.
func TestCacheSideTable(t *testing.T) {
	now := time.Now().UTC().Round(0) // as the cache gives times back
	entry := func(tok, sub string, extra map[string]any) *cacheEntry {
		return &cacheEntry{token: tok, validFrom: now, validTo: now.Add(time.Hour), res: Result{
			KeyID: "k1",
			Claims: Claims{Issuer: "tokend", Subject: sub, AppID: "app_1", ID: "jti-" + tok,
				Audience: []string{"orders"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour), Extra: extra},
		}}
	}
	long := strings.Repeat("s", slotData+1)
	c := newCache(cacheShards) // one entry per shard: every put in a shard evicts
	check := func(e *cacheEntry) {
		t.Helper()
		got, ok := c.get(e.token)
		if !ok {
			t.Fatalf("%s: not cached", e.token)
		}
		want := e.res
		if !reflect.DeepEqual(got.res.Claims, want.Claims) || got.res.KeyID != want.KeyID {
			t.Fatalf("%s: got %+v, want %+v", e.token, got.res, want)
		}
	}
	sides := func() int {
		n := 0
		for i := range c.shards {
			n += len(c.shards[i].side)
		}
		return n
	}

	e := entry("x", long, nil)
	c.put(e)
	check(e)
	e = entry("x", "short", nil) // same token, now fits: the side entry goes
	c.put(e)
	check(e)
	if n := sides(); n != 0 {
		t.Errorf("%d side entries after replacing the long entry with a short one", n)
	}
	e = entry("x", "short", map[string]any{"role": "admin"})
	c.put(e)
	check(e)

	for i := range 200 {
		sub, extra := "user", map[string]any(nil)
		switch i % 3 {
		case 0:
			sub = long + fmt.Sprint(i)
		case 1:
			extra = map[string]any{"n": float64(i)}
		}
		e := entry(fmt.Sprintf("token-%d", i), sub, extra)
		c.put(e)
		check(e)
		if n := sides(); n > c.len() {
			t.Fatalf("after %d puts: %d side entries for %d entries", i+1, n, c.len())
		}
	}
	// Exactly the entries still cached that need one have a side entry.
	need := 0
	for i := range 200 {
		if _, ok := c.get(fmt.Sprintf("token-%d", i)); ok && i%3 != 2 {
			need++
		}
	}
	if _, ok := c.get("x"); ok { // the extra-claims entry put before the loop
		need++
	}
	if n := sides(); n != need {
		t.Errorf("%d side entries, %d cached entries need one", n, need)
	}
}
