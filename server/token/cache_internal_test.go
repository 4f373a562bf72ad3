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
