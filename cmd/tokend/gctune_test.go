package main

import (
	"os"
	"testing"
)

// TestGCHeadroom: the real binary sets the garbage collector's heap goal
// to its live heap + gc-headroom (32 MiB by default), and leaves the
// runtime's default alone with 0 or with GOGC in the environment.
func TestGCHeadroom(t *testing.T) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		t.Skip("GOGC is set in the environment: the tuner leaves it alone")
	}
	t.Parallel()
	const mib = 1 << 20
	for _, tc := range []struct {
		name     string
		env      []string
		min, max float64 // of go_memstats_next_gc_bytes: live (a few MiB) + headroom
	}{
		{"default", nil, 32 * mib, 40 * mib},
		{"64MiB", []string{"TOKEND_GC_HEADROOM=64MiB"}, 64 * mib, 72 * mib},
		{"off", []string{"TOKEND_GC_HEADROOM=0"}, 0, 16 * mib},
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
