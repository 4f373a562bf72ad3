package watch

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/tokend/tokend/server/storage"
)

// Errors of a Subscription.
var (
	// ErrLagged means the ring no longer holds changes the subscriber has
	// not read: it must start over from a full snapshot.
	ErrLagged = errors.New("watch: subscriber fell behind the change ring")
	// ErrClosed means the hub was closed (the server is stopping).
	ErrClosed = errors.New("watch: hub closed")
)

// DefaultCapacity is how many recent changes a Hub keeps by default.
const DefaultCapacity = 1024

// Change is one change of the state that validation reads.
type Change struct {
	// Version is the hub's version after this change; Publish sets it.
	Version int64
	// Apps lists the apps whose record or keys changed, or that are gone.
	// Watchers read their current state when they send the change.
	Apps []string
	// Revocations are new access token denylist entries.
	Revocations []storage.Revocation
}

// empty reports whether c changes nothing.
func (c Change) empty() bool { return len(c.Apps) == 0 && len(c.Revocations) == 0 }

// Hub fans changes out to subscribers. It is safe for concurrent use.
type Hub struct {
	mu      sync.Mutex
	base    int64    // version before the first change
	version int64    // version of the latest change
	ring    []Change // recent changes; ring[(v-base-1)%len(ring)] holds version v
	held    int      // how many changes the ring holds
	subs    map[*Subscription]struct{}
	closed  bool
}

// Option configures a Hub.
type Option func(*Hub)

// WithCapacity sets how many recent changes the hub keeps for resuming
// and for subscribers that are behind (default DefaultCapacity; at least 1).
func WithCapacity(n int) Option {
	return func(h *Hub) { h.ring = make([]Change, max(n, 1)) }
}

// WithBase sets the version before the first change (default: the wall
// clock in nanoseconds when the hub is made). A restarted server thus
// starts above every version its previous run handed out, and a version
// from another process almost never falls inside this hub's ring: it gets
// a full snapshot instead of a wrong resume.
func WithBase(v int64) Option { return func(h *Hub) { h.base = v } }

// NewHub returns a Hub with no change yet.
func NewHub(opts ...Option) *Hub {
	h := &Hub{base: time.Now().UnixNano(), subs: map[*Subscription]struct{}{}}
	for _, o := range opts {
		o(h)
	}
	if h.ring == nil {
		h.ring = make([]Change, DefaultCapacity)
	}
	h.version = h.base
	return h
}

// Publish records a change, gives it the next version and wakes the
// subscribers; it never blocks on them. It returns the change's version
// (the current version, unchanged, for an empty change or a closed hub).
// The caller must not modify c's slices afterwards.
func (h *Hub) Publish(c Change) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.empty() || h.closed {
		return h.version
	}
	h.version++
	c.Version = h.version
	h.ring[h.slot(h.version)] = c
	h.held = min(h.held+1, len(h.ring))
	for s := range h.subs {
		select {
		case s.wake <- struct{}{}:
		default: // already woken: it will read everything up to h.version
		}
	}
	return h.version
}

func (h *Hub) slot(v int64) int { return int((v - h.base - 1) % int64(len(h.ring))) }

// oldest is the version of the oldest change held (h.version+1 when none).
func (h *Hub) oldest() int64 { return h.version - int64(h.held) + 1 }

// Version returns the version of the latest change.
func (h *Hub) Version() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.version
}

// Subscribe starts following the changes after version from. resumed is
// true when the ring holds every change after from, which Wait then
// returns; otherwise (from is 0, too old, from another process, or ahead)
// the subscription starts at the current version and the subscriber must
// first take a full snapshot of the state, which already includes every
// change up to Version. Close the subscription when done.
func (h *Hub) Subscribe(from int64) (sub *Subscription, resumed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &Subscription{hub: h, wake: make(chan struct{}, 1)}
	if resumed = from >= h.oldest()-1 && from <= h.version && from >= h.base; resumed {
		s.pos = from
	} else {
		s.pos = h.version
	}
	if h.closed {
		s.closed = true
		return s, resumed
	}
	h.subs[s] = struct{}{}
	if s.pos < h.version {
		s.wake <- struct{}{}
	}
	return s, resumed
}

// Close ends every subscription: their Wait returns ErrClosed. Later
// Publish calls are ignored.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subs {
		s.closed = true
		close(s.wake)
	}
	clear(h.subs)
}

// Subscription follows a Hub from a version on. Use it from one goroutine.
type Subscription struct {
	hub  *Hub
	wake chan struct{}
	// pos (the version read up to) and closed are guarded by hub.mu.
	pos    int64
	closed bool
}

// Version is the version the subscriber has read up to: the version of
// its snapshot, then of the last change Wait returned.
func (s *Subscription) Version() int64 {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.pos
}

// Wait blocks until there are changes after Version and returns all of
// them, oldest first, or ErrLagged when the ring dropped some of them
// before they were read, ErrClosed when the hub closed, or ctx's error.
func (s *Subscription) Wait(ctx context.Context) ([]Change, error) {
	for {
		if out, err := s.take(); out != nil || err != nil {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.wake:
		}
	}
}

// Poll is Wait without waiting: it returns nil, nil when no change is
// pending.
func (s *Subscription) Poll() ([]Change, error) { return s.take() }

// take returns the changes after pos, nil when there is none yet.
func (s *Subscription) take() ([]Change, error) {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case s.closed:
		return nil, ErrClosed
	case s.pos == h.version:
		return nil, nil
	case s.pos < h.oldest()-1:
		return nil, ErrLagged
	}
	out := make([]Change, 0, h.version-s.pos)
	for v := s.pos + 1; v <= h.version; v++ {
		out = append(out, h.ring[h.slot(v)])
	}
	s.pos = h.version
	return out, nil
}

// Close stops following the hub.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if !s.closed {
		delete(h.subs, s)
		s.closed = true
	}
}

// Coalesce merges changes into one: the union of their apps (sorted) and
// their revocations with one entry per target (the one that expires
// latest, as the denylist keeps), at the version of the last change.
func Coalesce(cs []Change) Change {
	var out Change
	apps := map[string]bool{}
	type target struct {
		app  string
		kind storage.RevocationKind
		val  string
	}
	revs := map[target]int{}
	for _, c := range cs {
		out.Version = max(out.Version, c.Version)
		for _, a := range c.Apps {
			apps[a] = true
		}
		for _, r := range c.Revocations {
			k := target{r.AppID, r.Kind, r.Value}
			if i, ok := revs[k]; ok {
				if r.ExpiresAt.After(out.Revocations[i].ExpiresAt) {
					out.Revocations[i] = r
				}
				continue
			}
			revs[k] = len(out.Revocations)
			out.Revocations = append(out.Revocations, r)
		}
	}
	for a := range apps {
		out.Apps = append(out.Apps, a)
	}
	slices.Sort(out.Apps)
	return out
}
