package gctune

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// basePercent is the GOGC a Tuner never goes below: the runtime's default.
const basePercent = 100

// maxPercent bounds GOGC, whatever the headroom.
const maxPercent = 10_000

// heapMinimum is the runtime's smallest heap goal at GOGC=100; it scales
// with GOGC.
const heapMinimum = 4 << 20

// Percent returns the GOGC that lets the heap grow by at least headroom
// bytes past live before the next collection: basePercent, or more while
// the heap is smaller than the headroom. The runtime's goal is the larger
// of live + (live + roots) x GOGC/100, roots being the goroutine stacks
// and globals it scans, and heapMinimum x GOGC/100; the smallest GOGC
// that brings either to live + headroom is the answer.
func Percent(live, roots, headroom uint64) int {
	base := max(live+roots, 1)
	target := live + headroom
	if headroom <= base*basePercent/100 || target <= heapMinimum*basePercent/100 {
		return basePercent
	}
	p := math.Min(float64(headroom)/float64(base), float64(target)/heapMinimum) * 100
	return int(math.Min(math.Ceil(p), maxPercent))
}

// Tuner tunes GOGC after every collection; Stop ends it.
type Tuner struct {
	headroom uint64
	stopped  atomic.Bool
	once     sync.Once
	prev     int // GOGC before Start, restored by Stop

	mu      sync.Mutex
	percent int // last set
	sample  []metrics.Sample
}

// Start tunes GOGC so that at least headroom bytes are allocated between
// collections. It returns nil, tuning nothing, when headroom is 0 or the
// GOGC environment variable is set (the operator's choice wins).
func Start(headroom uint64) *Tuner {
	if headroom == 0 {
		return nil
	}
	if _, ok := os.LookupEnv("GOGC"); ok {
		return nil
	}
	t := &Tuner{headroom: headroom, sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}}
	t.prev = debug.SetGCPercent(basePercent)
	t.percent = basePercent
	t.tune()
	t.arm()
	return t
}

// Headroom is the headroom the Tuner keeps.
func (t *Tuner) Headroom() uint64 { return t.headroom }

// Stop ends the tuning and restores GOGC as it was before Start.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.once.Do(func() {
		t.stopped.Store(true)
		t.mu.Lock()
		defer t.mu.Unlock()
		debug.SetGCPercent(t.prev)
	})
}

// sentinel is garbage whose cleanup runs after the collection that finds
// it unreachable: one per cycle. Not a tiny allocation, so that it is
// freed on its own.
type sentinel [64]byte

// arm registers the hook for the next collection.
func (t *Tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *Tuner) {
		if t.stopped.Load() {
			return
		}
		t.tune()
		t.arm()
	}, t)
}

// tune sets GOGC from the heap the last collection left.
func (t *Tuner) tune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() {
		return
	}
	metrics.Read(t.sample)
	var v [3]uint64
	for i, s := range t.sample {
		if s.Value.Kind() != metrics.KindUint64 {
			return // not in this runtime: leave GOGC as it is
		}
		v[i] = s.Value.Uint64()
	}
	p := Percent(v[0], v[1]+v[2], t.headroom)
	// Within 5% of the current value: leave it, SetGCPercent takes the
	// heap lock.
	if d := p - t.percent; d*20 > t.percent || d*20 < -t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
}

// Percent is the GOGC last set.
func (t *Tuner) Percent() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.percent
}
