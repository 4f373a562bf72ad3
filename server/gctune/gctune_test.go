package gctune

import (
	"os"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name                  string
		live, roots, headroom uint64
		want                  int
	}{
		{"heap as large as the headroom", 31 * mib, 1 * mib, 32 * mib, 100},
		{"heap larger than the headroom", 64 * mib, 1 * mib, 32 * mib, 100},
		{"heap a quarter of the headroom", 7 * mib, 1 * mib, 32 * mib, 400},
		{"heap of 11 MiB", 11 * mib, 0, 32 * mib, 291},
		{"heap of 2 MiB: the heap minimum", 2 * mib, 1 * mib, 32 * mib, 850},
		{"nothing live: the heap minimum", 0, 0, 32 * mib, 800},
		{"headroom under the heap minimum", 0, 0, 2 * mib, 100},
		{"huge headroom", 0, 0, 1 << 40, maxPercent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Percent(tc.live, tc.roots, tc.headroom)
			if got != tc.want {
				t.Errorf("Percent(%d, %d, %d) = %d, want %d", tc.live, tc.roots, tc.headroom, got, tc.want)
			}
			if got > basePercent && got < maxPercent { // the goal it gives: live + headroom
				goal := max(tc.live+(tc.live+tc.roots)*uint64(got)/100, heapMinimum*uint64(got)/100)
				if want := tc.live + tc.headroom; goal < want || goal > want+want/50 {
					t.Errorf("goal %d, want %d", goal, want)
				}
			}
		})
	}
}

func readUint(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var sink []byte

// garbage allocates n bytes in short-lived 8 KiB pieces and returns how
// many collections ran meanwhile.
func garbage(n int) uint64 {
	before := readUint("/gc/cycles/total:gc-cycles")
	for range n / 8192 {
		sink = make([]byte, 8192)
	}
	return readUint("/gc/cycles/total:gc-cycles") - before
}

// TestTunerCutsCollections: with a 64 MiB headroom, allocating 512 MiB
// of garbage on a heap of a few MiB takes about eight collections,
// against more than a hundred at GOGC=100; Stop restores GOGC.
func TestTunerCutsCollections(t *testing.T) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		t.Skip("GOGC is set: the tuner leaves it alone")
	}
	runtime.GC()
	const total = 512 << 20
	plain := garbage(total)

	tu := Start(64 << 20)
	if tu == nil {
		t.Fatal("Start returned nil without GOGC set")
	}
	t.Cleanup(tu.Stop)
	runtime.GC() // the first cycle the hook sees
	deadline := time.Now().Add(5 * time.Second)
	for readUint("/gc/gogc:percent") <= 100 {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC still %d after a collection with a 64 MiB headroom", readUint("/gc/gogc:percent"))
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	live := readUint("/gc/heap/live:bytes")
	if goal := readUint("/gc/heap/goal:bytes"); goal < live+60<<20 || goal > live+72<<20 {
		t.Errorf("heap goal %d MiB with %d MiB live and a 64 MiB headroom", goal>>20, live>>20)
	}
	tuned := garbage(total)
	t.Logf("collections for %d MiB of garbage: %d at GOGC=100, %d with a 64 MiB headroom (GOGC %d)", total>>20, plain, tuned, tu.Percent())
	if tuned == 0 || tuned*4 > plain {
		t.Errorf("the headroom did not cut collections: %d with it, %d without", tuned, plain)
	}

	tu.Stop()
	if p := readUint("/gc/gogc:percent"); p != 100 {
		t.Errorf("GOGC after Stop = %d, want 100", p)
	}
	tu.Stop() // twice is fine
}

func TestStartLeavesGOGCAlone(t *testing.T) {
	t.Setenv("GOGC", "200")
	if tu := Start(64 << 20); tu != nil {
		tu.Stop()
		t.Error("Start tuned GOGC although the environment sets it")
	}
	if tu := Start(0); tu != nil {
		tu.Stop()
		t.Error("Start(0) tuned GOGC")
	}
}
