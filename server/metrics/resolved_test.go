package metrics

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestResolvedMakesOncePerKey: concurrent first uses of a key make its
// value once, and every caller gets that value.
func TestResolvedMakesOncePerKey(t *testing.T) {
	var r resolved[int, *int]
	var made atomic.Int32
	got := make([][8]*int, 32)
	var wg sync.WaitGroup
	for g := range got {
		wg.Go(func() {
			for k := range 8 {
				got[g][k] = r.get(k, func() *int { made.Add(1); v := k; return &v })
			}
		})
	}
	wg.Wait()
	if n := made.Load(); n != 8 {
		t.Errorf("made %d values for 8 keys", n)
	}
	for g := range got {
		for k := range 8 {
			if got[g][k] != got[0][k] || *got[g][k] != k {
				t.Fatalf("goroutine %d key %d: got another value", g, k)
			}
		}
	}
}
