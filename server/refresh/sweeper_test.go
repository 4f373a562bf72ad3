package refresh

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestSweep checks that a sweep at an injected time deletes exactly the
// denylist entries and refresh tokens that expired before it, in the store
// and in memory, and that what is left still works.
func TestSweep(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openStore(t)
	now := t0.Add(24 * time.Hour)
	must(t, s.AddRevocations(ctx, []storage.Revocation{
		byID("app-1", "gone", now.Add(-time.Second)),
		bySubject("app-1", "gone", t0, now.Add(-time.Hour)),
		byID("app-1", "at-now", now), // not before now: kept
		byID("app-1", "live", now.Add(time.Hour)),
	}))
	for _, rt := range []storage.RefreshToken{
		{Hash: "expired", FamilyID: "f1", AppID: "app-1", Subject: "a", CreatedAt: t0,
			ExpiresAt: now.Add(-time.Second), FamilyExpiresAt: now.Add(-time.Second)},
		{Hash: "idle-expired-family-live", FamilyID: "f2", AppID: "app-1", Subject: "a", CreatedAt: t0,
			ExpiresAt: now.Add(-time.Second), FamilyExpiresAt: now.Add(time.Hour)},
		{Hash: "live", FamilyID: "f3", AppID: "app-1", Subject: "a", CreatedAt: t0,
			ExpiresAt: now.Add(time.Hour), FamilyExpiresAt: now.Add(time.Hour)},
	} {
		must(t, s.CreateRefreshToken(ctx, rt))
	}
	d := NewDenylist()
	must(t, d.Load(ctx, s, t0)) // loaded long ago: holds every entry
	if d.Len() != 4 {
		t.Fatalf("Len before the sweep = %d, want 4", d.Len())
	}

	sw := NewSweeper(s, d, discard)
	got, err := sw.Sweep(ctx, now)
	must(t, err)
	if want := (Swept{Revocations: 2, Denylist: 2, RefreshTokens: 1}); got != want {
		t.Errorf("Sweep = %+v, want %+v", got, want)
	}
	left, err := s.ListRevocations(ctx, t0)
	must(t, err)
	var values []string
	for _, r := range left {
		values = append(values, r.Value)
	}
	if len(values) != 2 || values[0] != "at-now" || values[1] != "live" {
		t.Errorf("entries left in the store = %q, want [at-now live]", values)
	}
	for _, tc := range []struct {
		jti, sub string
		want     bool
	}{
		{"gone", "x", false},
		{"", "gone", false},
		{"at-now", "x", true},
		{"live", "x", true},
	} {
		if got := d.Revoked("app-1", tc.jti, tc.sub, t0); got != tc.want {
			t.Errorf("after the sweep: Revoked(jti %q, sub %q) = %v, want %v", tc.jti, tc.sub, got, tc.want)
		}
	}
	for hash, kept := range map[string]bool{"expired": false, "idle-expired-family-live": true, "live": true} {
		_, err := s.GetRefreshToken(ctx, hash)
		if kept != (err == nil) {
			t.Errorf("refresh token %q after the sweep: %v, want kept=%v", hash, err, kept)
		}
	}

	got, err = sw.Sweep(ctx, now)
	must(t, err)
	if got != (Swept{}) {
		t.Errorf("second Sweep = %+v, want nothing", got)
	}
}

// failingStore wraps the real store and fails SweepRevocations, or runs a
// hook after SweepRefreshTokens.
type failingStore struct {
	SweepStore
	revocationsErr error
	afterRefresh   func()
}

func (f *failingStore) SweepRevocations(ctx context.Context, now time.Time) (int, error) {
	if f.revocationsErr != nil {
		return 0, f.revocationsErr
	}
	return f.SweepStore.SweepRevocations(ctx, now)
}

func (f *failingStore) SweepRefreshTokens(ctx context.Context, now time.Time) (int, error) {
	n, err := f.SweepStore.SweepRefreshTokens(ctx, now)
	if f.afterRefresh != nil {
		f.afterRefresh()
	}
	return n, err
}

// TestSweepStoreDown checks that the memory denylist is swept even when
// the store fails, and that the error says so.
func TestSweepStoreDown(t *testing.T) {
	t.Parallel()
	d := NewDenylist()
	d.Add(byID("app-1", "gone", t0))
	fs := &failingStore{SweepStore: openStore(t), revocationsErr: storage.ErrUnavailable}
	got, err := NewSweeper(fs, d, discard).Sweep(t.Context(), t0.Add(time.Hour))
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Sweep error = %v, want ErrUnavailable", err)
	}
	if got.Denylist != 1 || d.Len() != 0 {
		t.Errorf("Sweep = %+v with %d entries left; want the memory entry swept", got, d.Len())
	}
}

// TestSweeperRun checks the loop: it sweeps at once with the injected
// clock, and returns when its context is done.
func TestSweeperRun(t *testing.T) {
	t.Parallel()
	d := NewDenylist()
	d.Add(byID("app-1", "gone", t0))
	ctx, cancel := context.WithCancel(t.Context())
	fs := &failingStore{SweepStore: openStore(t), afterRefresh: cancel} // one round only
	done := make(chan struct{})
	go func() {
		NewSweeper(fs, d, discard).Run(ctx, func() time.Time { return t0.Add(time.Hour) }, time.Hour)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was canceled")
	}
	if d.Len() != 0 {
		t.Errorf("Run left %d entries; want the first round to sweep at the injected time", d.Len())
	}

	// A canceled context: Run returns without sweeping.
	d.Add(byID("app-1", "gone", t0))
	NewSweeper(fs, d, discard).Run(ctx, func() time.Time { return t0.Add(time.Hour) }, time.Hour)
	if d.Len() != 1 {
		t.Error("Run swept with a canceled context")
	}
}
