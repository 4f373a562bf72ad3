package metrics

import (
	"maps"
	"sync"
	"sync/atomic"
)

// resolved maps keys to series resolved once (a Vec's children looked up
// by their label values): reads take no lock and do not hash label
// values; the first use of a key makes its value under a mutex and
// publishes a new copy of the map. For small, slowly growing key sets
// (apps, methods).
type resolved[K comparable, V any] struct {
	mu sync.Mutex // serializes additions
	m  atomic.Pointer[map[K]V]
}

// get returns the value of k, making it with newValue on first use.
func (r *resolved[K, V]) get(k K, newValue func() V) V {
	if m := r.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var old map[K]V
	if m := r.m.Load(); m != nil {
		old = *m
	}
	if v, ok := old[k]; ok {
		return v
	}
	v := newValue()
	next := maps.Clone(old)
	if next == nil {
		next = map[K]V{}
	}
	next[k] = v
	r.m.Store(&next)
	return v
}
