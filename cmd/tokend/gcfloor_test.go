package main

import (
	"os"
	"testing"
)

// TestGCHeapFloor: the real binary sets the garbage collector's heap goal
// to gc-heap-floor (32 MiB by default) on its small heap, and leaves the
// runtime's default alone with 0 or with GOGC in the environment.
func TestGCHeapFloor(t *testing.T) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		t.Skip("GOGC is set in the environment: the floor leaves it alone")
	}
	t.Parallel()
	const mib = 1 << 20
	for _, tc := range []struct {
		name     string
		env      []string
		min, max float64 // of go_memstats_next_gc_bytes
	}{
		{"default", nil, 31 * mib, 34 * mib},
		{"64MiB", []string{"TOKEND_GC_HEAP_FLOOR=64MiB"}, 63 * mib, 66 * mib},
		{"off", []string{"TOKEND_GC_HEAP_FLOOR=0"}, 0, 16 * mib},
		{"GOGC wins", []string{"GOGC=100"}, 0, 16 * mib},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := startDaemon(t, t.TempDir(), tc.env...)
			goal := scrape(t, d.httpAddr(t))["go_memstats_next_gc_bytes"]
			if goal < tc.min || goal > tc.max {
				t.Errorf("heap goal %.1f MiB, want %.0f..%.0f MiB", goal/mib, tc.min/mib, tc.max/mib)
			}
			d.stop(t)
		})
	}
}
