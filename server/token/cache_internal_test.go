package token

import (
	"fmt"
	"testing"
)

// TestCacheBoundedClock: the cache never holds more than its capacity, and
// CLOCK gives entries used since the hand last passed a second chance.
func TestCacheBoundedClock(t *testing.T) {
	c := newCache(cacheShards * 4) // 4 per shard
	put := func(tok string) { c.put(&cacheEntry{token: tok}) }
	var hot []string
	for i := range 1000 {
		tok := fmt.Sprintf("token-%d", i)
		put(tok)
		if i < 3 { // fewer than a shard's capacity, wherever they land
			hot = append(hot, tok)
		}
		for _, h := range hot { // used all along: never evicted
			if i >= len(hot) && c.get(h) == nil {
				t.Fatalf("after %d puts the hot entry %s is gone", i+1, h)
			}
		}
		if n := c.len(); n > cacheShards*4 {
			t.Fatalf("after %d puts the cache holds %d entries, capacity %d", i+1, n, cacheShards*4)
		}
	}
	if c.get("token-999") == nil {
		t.Error("the last entry put is missing")
	}
	// Replacing an entry keeps one entry for it.
	n := c.len()
	put("token-999")
	if c.len() != n {
		t.Errorf("putting an existing token again: %d entries, was %d", c.len(), n)
	}
}
