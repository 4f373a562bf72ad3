package gcfloor

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
		name               string
		live, roots, floor uint64
		want               int
	}{
		{"heap is half the floor", 16 * mib, 0, 32 * mib, 100},
		{"heap is a bit under half the floor", 15 * mib, 0, 32 * mib, 113},
		{"heap is above the floor", 64 * mib, 1 * mib, 32 * mib, 100},
		{"heap is a quarter of the floor", 7 * mib, 1 * mib, 32 * mib, 312},
		{"live is 2 MiB", 2 * mib, 1 * mib, 32 * mib, 800},
		{"live is 2 MiB, roots 6 MiB", 2 * mib, 6 * mib, 32 * mib, 375},
		{"nothing live: the heap minimum", 0, 0, 32 * mib, 800},
		{"floor under the heap minimum", 0, 0, 2 * mib, 100},
		{"huge floor", 0, 0, 1 << 40, maxPercent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Percent(tc.live, tc.roots, tc.floor)
			if got != tc.want {
				t.Errorf("Percent(%d, %d, %d) = %d, want %d", tc.live, tc.roots, tc.floor, got, tc.want)
			}
			if got < maxPercent && got > basePercent { // the goal it gives is the floor
				goal := max(tc.live+(tc.live+tc.roots)*uint64(got)/100, heapMinimum*uint64(got)/100)
				if goal+mib/10 < tc.floor || goal > tc.floor+tc.floor/50 {
					t.Errorf("goal %d, want the floor %d", goal, tc.floor)
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

// garbage allocates n bytes in short-lived 8 KiB pieces and returns how
// many collections ran meanwhile.
var sink []byte

func garbage(n int) uint64 {
	before := readUint("/gc/cycles/total:gc-cycles")
	for range n / 8192 {
		sink = make([]byte, 8192)
	}
	return readUint("/gc/cycles/total:gc-cycles") - before
}

// TestFloorCutsCollections: with a 64 MiB floor, allocating 512 MiB of
// garbage on a heap of a few MiB takes about eight collections, against
// more than a hundred at GOGC=100 on an idle machine; Stop restores GOGC.
// The count without the floor is only logged: when other processes hold
// the cores, each cycle runs long and the heap overshoots its goal, so
// it can drop to a dozen.
func TestFloorCutsCollections(t *testing.T) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		t.Skip("GOGC is set: the floor leaves it alone")
	}
	runtime.GC()
	const total = 512 << 20
	plain := garbage(total)

	f := Start(64 << 20)
	if f == nil {
		t.Fatal("Start returned nil without GOGC set")
	}
	t.Cleanup(f.Stop)
	// The goal follows the live heap of the last collection, and the
	// hook runs after a collection, on its own goroutine: a collection
	// that ran during the storm above saw objects allocated while it
	// marked as live, so the first goal may be lower. Collect until the
	// hook has seen a quiet heap.
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		goal := readUint("/gc/heap/goal:bytes")
		if goal >= 60<<20 && goal <= 72<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("heap goal %d MiB (GOGC %d) with a 64 MiB floor", goal>>20, readUint("/gc/gogc:percent"))
		}
	}
	floored := garbage(total)
	t.Logf("collections for %d MiB of garbage: %d at GOGC=100, %d with a 64 MiB floor (GOGC %d)", total>>20, plain, floored, f.Percent())
	if want := uint64(2 * total / (64 << 20)); floored == 0 || floored > want {
		t.Errorf("%d collections with a 64 MiB floor, want 1..%d", floored, want)
	}

	f.Stop()
	if p := readUint("/gc/gogc:percent"); p != 100 {
		t.Errorf("GOGC after Stop = %d, want 100", p)
	}
	f.Stop() // twice is fine
}

func TestStartLeavesGOGCAlone(t *testing.T) {
	t.Setenv("GOGC", "200")
	if f := Start(64 << 20); f != nil {
		f.Stop()
		t.Error("Start tuned GOGC although the environment sets it")
	}
	if f := Start(0); f != nil {
		f.Stop()
		t.Error("Start(0) tuned GOGC")
	}
}
