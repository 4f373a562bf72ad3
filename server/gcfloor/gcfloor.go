package gcfloor

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// basePercent is the GOGC a Floor never goes below: the runtime's default.
const basePercent = 100

// maxPercent bounds GOGC, whatever the floor.
const maxPercent = 10_000

// heapMinimum is the runtime's smallest heap goal at GOGC=100; it scales
// with GOGC.
const heapMinimum = 4 << 20

// Percent returns the GOGC that puts the heap goal after a collection at
// least at floor bytes: basePercent, or more while the heap is under half
// the floor. The runtime's goal is the larger of live + (live + roots) x
// GOGC/100, roots being the goroutine stacks and globals it scans, and
// heapMinimum x GOGC/100; the smallest GOGC that brings either to the
// floor is the answer.
func Percent(live, roots, floor uint64) int {
	base := max(live+roots, 1)
	if floor <= live+base*basePercent/100 || floor <= heapMinimum*basePercent/100 {
		return basePercent
	}
	p := math.Min(float64(floor-live)/float64(base), float64(floor)/heapMinimum) * 100
	return int(math.Min(p, maxPercent))
}

// Floor tunes GOGC after every collection; Stop ends it.
type Floor struct {
	floor   uint64
	stopped atomic.Bool
	once    sync.Once
	prev    int // GOGC before Start, restored by Stop

	mu      sync.Mutex
	percent int // last set
	sample  []metrics.Sample
}

// Start tunes GOGC so that the heap goal is at least floor bytes. It
// returns nil, tuning nothing, when floor is 0 or the GOGC environment
// variable is set (the operator's choice wins).
func Start(floor uint64) *Floor {
	if floor == 0 {
		return nil
	}
	if _, ok := os.LookupEnv("GOGC"); ok {
		return nil
	}
	f := &Floor{floor: floor, sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}}
	f.prev = debug.SetGCPercent(basePercent)
	f.percent = basePercent
	f.tune()
	f.arm()
	return f
}

// Bytes is the floor.
func (f *Floor) Bytes() uint64 { return f.floor }

// Stop ends the tuning and restores GOGC as it was before Start.
func (f *Floor) Stop() {
	if f == nil {
		return
	}
	f.once.Do(func() {
		f.stopped.Store(true)
		f.mu.Lock()
		defer f.mu.Unlock()
		debug.SetGCPercent(f.prev)
	})
}

// sentinel is garbage whose cleanup runs after the collection that finds
// it unreachable: one per cycle. Not a tiny allocation, so that it is
// freed on its own.
type sentinel [64]byte

// arm registers the hook for the next collection.
func (f *Floor) arm() {
	runtime.AddCleanup(new(sentinel), func(f *Floor) {
		if f.stopped.Load() {
			return
		}
		f.tune()
		f.arm()
	}, f)
}

// tune sets GOGC from the live heap the last collection left.
func (f *Floor) tune() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped.Load() {
		return
	}
	metrics.Read(f.sample)
	var v [3]uint64
	for i, s := range f.sample {
		if s.Value.Kind() != metrics.KindUint64 {
			return // not in this runtime: leave GOGC as it is
		}
		v[i] = s.Value.Uint64()
	}
	p := Percent(v[0], v[1]+v[2], f.floor)
	// Within 5% of the current value: leave it, SetGCPercent takes the
	// heap lock.
	if d := p - f.percent; d*20 > f.percent || d*20 < -f.percent {
		debug.SetGCPercent(p)
		f.percent = p
	}
}

// Percent is the GOGC last set.
func (f *Floor) Percent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.percent
}
