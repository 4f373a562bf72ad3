package watch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/watch"
)

const base = 1000

func publishApps(h *watch.Hub, ids ...string) []int64 {
	var vs []int64
	for _, id := range ids {
		vs = append(vs, h.Publish(watch.Change{Apps: []string{id}}))
	}
	return vs
}

func appsOf(cs []watch.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Apps...)
	}
	return out
}

func TestPublishAndWait(t *testing.T) {
	t.Parallel()
	h := watch.NewHub(watch.WithBase(base))
	sub, resumed := h.Subscribe(0)
	defer sub.Close()
	if resumed {
		t.Fatal("Subscribe(0) resumed; want a snapshot")
	}
	if got := sub.Version(); got != base {
		t.Fatalf("snapshot version = %d, want %d", got, base)
	}
	if vs := publishApps(h, "a", "b", "c"); !slices.Equal(vs, []int64{base + 1, base + 2, base + 3}) {
		t.Fatalf("versions = %v", vs)
	}
	if v := h.Publish(watch.Change{}); v != base+3 {
		t.Fatalf("empty change got version %d, want %d (unchanged)", v, base+3)
	}
	cs, err := sub.Wait(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := appsOf(cs); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("apps = %v", got)
	}
	if cs[2].Version != base+3 || sub.Version() != base+3 {
		t.Fatalf("version = %d / %d, want %d", cs[2].Version, sub.Version(), base+3)
	}
	if cs, err := sub.Poll(); cs != nil || err != nil {
		t.Fatalf("Poll after reading everything = %v, %v", cs, err)
	}
}

func TestSubscribeResume(t *testing.T) {
	t.Parallel()
	h := watch.NewHub(watch.WithBase(base), watch.WithCapacity(4))
	publishApps(h, "1", "2", "3", "4", "5", "6", "7", "8", "9", "10") // holds versions base+7 .. base+10
	for _, tc := range []struct {
		from    int64
		resumed bool
		missed  []string
	}{
		{0, false, nil},
		{base + 10, true, nil},
		{base + 8, true, []string{"9", "10"}},
		{base + 6, true, []string{"7", "8", "9", "10"}},
		{base + 5, false, nil},    // base+6 is gone
		{base + 11, false, nil},   // ahead: another process's version
		{base - 3, false, nil},    // before this hub began
		{base/2 + 10, false, nil}, // far below
		{1 << 62, false, nil},     // far ahead
	} {
		t.Run(fmt.Sprint(tc.from), func(t *testing.T) {
			sub, resumed := h.Subscribe(tc.from)
			defer sub.Close()
			if resumed != tc.resumed {
				t.Fatalf("resumed = %v, want %v", resumed, tc.resumed)
			}
			cs, err := sub.Poll()
			if err != nil {
				t.Fatal(err)
			}
			if got := appsOf(cs); !slices.Equal(got, tc.missed) {
				t.Fatalf("missed changes = %v, want %v", got, tc.missed)
			}
			if sub.Version() != base+10 {
				t.Fatalf("version = %d, want %d", sub.Version(), base+10)
			}
		})
	}
}

func TestSlowSubscriberDoesNotBlockPublishers(t *testing.T) {
	t.Parallel()
	h := watch.NewHub(watch.WithBase(base), watch.WithCapacity(64))
	slow, _ := h.Subscribe(0) // never reads while publishing
	defer slow.Close()
	fast, _ := h.Subscribe(0)
	defer fast.Close()

	const n = 20000
	received := make(chan int, 1)
	go func() {
		got, last := 0, int64(base)
		for got < n {
			cs, err := fast.Wait(context.Background())
			if errors.Is(err, watch.ErrLagged) {
				// A reader slower than the ring starts over; count
				// what it skipped as seen.
				fast.Close()
				fast, _ = h.Subscribe(0)
				got = int(fast.Version() - base)
				last = fast.Version()
				continue
			}
			if err != nil {
				t.Error(err)
				break
			}
			for _, c := range cs {
				if c.Version != last+1 {
					t.Errorf("version %d after %d", c.Version, last)
				}
				last = c.Version
				got++
			}
		}
		received <- got
	}()

	done := make(chan struct{})
	start := time.Now()
	go func() {
		for i := range n {
			h.Publish(watch.Change{Apps: []string{fmt.Sprint(i)}})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publishers blocked by a subscriber that does not read")
	}
	t.Logf("%d changes published in %v with a stalled subscriber", n, time.Since(start))
	if got := <-received; got != n {
		t.Errorf("fast subscriber followed %d changes, want %d", got, n)
	}
	if _, err := slow.Wait(t.Context()); !errors.Is(err, watch.ErrLagged) {
		t.Fatalf("stalled subscriber: Wait = %v, want ErrLagged", err)
	}
}

func TestConcurrentPublishers(t *testing.T) {
	t.Parallel()
	h := watch.NewHub(watch.WithBase(base), watch.WithCapacity(1<<14))
	sub, _ := h.Subscribe(0)
	defer sub.Close()
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Go(func() {
			for i := range 500 {
				h.Publish(watch.Change{Apps: []string{fmt.Sprintf("%d-%d", p, i)}})
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	last := int64(base)
	for len(seen) < 8*500 {
		cs, err := sub.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Version != last+1 {
				t.Fatalf("version %d after %d", c.Version, last)
			}
			last = c.Version
			seen[c.Apps[0]] = true
		}
	}
	if h.Version() != base+8*500 {
		t.Fatalf("hub version = %d", h.Version())
	}
}

func TestCloseEndsSubscriptions(t *testing.T) {
	t.Parallel()
	h := watch.NewHub(watch.WithBase(base))
	sub, _ := h.Subscribe(0)
	errc := make(chan error, 1)
	go func() {
		_, err := sub.Wait(context.Background())
		errc <- err
	}()
	h.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, watch.ErrClosed) {
			t.Fatalf("Wait after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting subscriber")
	}
	sub.Close() // harmless after the hub closed
	if v := h.Publish(watch.Change{Apps: []string{"x"}}); v != base {
		t.Fatalf("Publish after Close = %d, want ignored (%d)", v, base)
	}
	late, _ := h.Subscribe(0)
	if _, err := late.Wait(t.Context()); !errors.Is(err, watch.ErrClosed) {
		t.Fatalf("Wait of a subscription made after Close = %v, want ErrClosed", err)
	}
	h.Close() // twice is harmless
}

func TestWaitHonoursContext(t *testing.T) {
	t.Parallel()
	h := watch.NewHub()
	sub, _ := h.Subscribe(0)
	defer sub.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := sub.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want DeadlineExceeded", err)
	}
}

func TestDefaultBaseIsAboveEarlierRuns(t *testing.T) {
	t.Parallel()
	before := time.Now().UnixNano()
	h := watch.NewHub()
	if h.Version() < before {
		t.Fatalf("version %d is below the time of creation %d: a restarted server could resume a client with a version of its previous run", h.Version(), before)
	}
}

func TestCoalesce(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0).UTC()
	rev := func(app string, kind storage.RevocationKind, v string, exp time.Duration) storage.Revocation {
		return storage.Revocation{AppID: app, Kind: kind, Value: v, RevokedAt: t0, ExpiresAt: t0.Add(exp)}
	}
	got := watch.Coalesce([]watch.Change{
		{Version: 5, Apps: []string{"b", "a"}, Revocations: []storage.Revocation{rev("a", storage.RevokeTokenID, "j1", time.Hour)}},
		{Version: 6, Apps: []string{"a"}},
		{Version: 7, Revocations: []storage.Revocation{
			rev("a", storage.RevokeTokenID, "j1", 2*time.Hour), // same target, later expiry: replaces
			rev("a", storage.RevokeSubject, "j1", time.Hour),   // same value, other kind: kept
			rev("b", storage.RevokeTokenID, "j1", time.Hour),   // other app: kept
		}},
		{Version: 8, Revocations: []storage.Revocation{rev("a", storage.RevokeTokenID, "j1", time.Minute)}}, // earlier expiry: ignored
	})
	if got.Version != 8 {
		t.Errorf("version = %d, want 8", got.Version)
	}
	if !slices.Equal(got.Apps, []string{"a", "b"}) {
		t.Errorf("apps = %v, want [a b]", got.Apps)
	}
	want := []storage.Revocation{
		rev("a", storage.RevokeTokenID, "j1", 2*time.Hour),
		rev("a", storage.RevokeSubject, "j1", time.Hour),
		rev("b", storage.RevokeTokenID, "j1", time.Hour),
	}
	if !slices.Equal(got.Revocations, want) {
		t.Errorf("revocations = %+v\nwant %+v", got.Revocations, want)
	}
}
