package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
)

// holdWriter makes the writer busy with an UpdateApp of app-1 until the
// returned release is called, so that writes queue up behind it. It
// returns once the writer is inside that update.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	inside, gate := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := s.UpdateApp(context.Background(), "app-1", func(a storage.App) (storage.App, error) {
			close(inside)
			<-gate
			return a, nil
		})
		done <- err
	}()
	<-inside
	return func() {
		close(gate)
		if err := <-done; err != nil {
			t.Errorf("UpdateApp holding the writer: %v", err)
		}
	}
}

// waitQueued returns once n writes wait for the writer, or fails the test
// after a long while.
func waitQueued(t *testing.T, s *Store, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.writer.waiting.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued after 10s, want %d", s.writer.waiting.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func groupStore(t *testing.T) *Store {
	t.Helper()
	s := open(t, filepath.Join(t.TempDir(), "tokend.db"))
	app := storage.App{ID: "app-1", Name: "one", Enabled: true, MaxTokenTTL: time.Hour, CreatedAt: t0}
	if err := s.CreateApp(t.Context(), app, nil); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	return s
}

func refreshRecord(hash string) storage.RefreshToken {
	return storage.RefreshToken{
		Hash: hash, FamilyID: "fam-" + hash, AppID: "app-1", Subject: "user-" + hash,
		AccessTokenID: "jti-" + hash, AccessTokenExpiresAt: t0.Add(time.Hour),
		CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour), FamilyExpiresAt: t0.Add(48 * time.Hour),
	}
}

// TestGroupCommitSharesCommits queues many writes behind a busy writer:
// they must all land in one transaction (one commit, one fsync), and each
// caller is answered only after it.
func TestGroupCommitSharesCommits(t *testing.T) {
	s := groupStore(t)
	const n = 40
	release := holdWriter(t, s)
	commits, ops := s.writer.commits.Load(), s.writer.ops.Load()

	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.CreateRefreshToken(t.Context(), refreshRecord(fmt.Sprintf("h%02d", i)))
		})
	}
	waitQueued(t, s, n)
	release()
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("CreateRefreshToken %d: %v", i, err)
		}
	}
	if got := s.writer.commits.Load() - commits; got != 1 {
		t.Errorf("%d concurrent writes took %d transactions, want 1", n, got)
	}
	if got := s.writer.ops.Load() - ops; got != n {
		t.Errorf("the batch ran %d writes, want %d", got, n)
	}
	for i := range n {
		if _, err := s.GetRefreshToken(t.Context(), fmt.Sprintf("h%02d", i)); err != nil {
			t.Errorf("GetRefreshToken h%02d after the batch: %v", i, err)
		}
	}
}

// TestGroupCommitBatchBound checks that a batch holds at most maxBatch
// writes.
func TestGroupCommitBatchBound(t *testing.T) {
	s := groupStore(t)
	n := defaultMaxBatch + 10
	release := holdWriter(t, s)
	commits := s.writer.commits.Load()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := s.CreateRefreshToken(t.Context(), refreshRecord(fmt.Sprintf("b%03d", i))); err != nil {
				t.Errorf("CreateRefreshToken %d: %v", i, err)
			}
		})
	}
	waitQueued(t, s, int64(n))
	release()
	wg.Wait()
	if got := s.writer.commits.Load() - commits; got != 2 {
		t.Errorf("%d queued writes took %d transactions, want 2 (batches of at most %d)", n, got, defaultMaxBatch)
	}
}

// TestGroupCommitIsolatesFailures puts failing writes in a batch with
// good ones: each failure is its caller's alone, a failed write leaves
// nothing behind (not even its statements that succeeded), and the others
// commit.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s := groupStore(t)
	ctx := t.Context()
	for _, h := range []string{"taken", "used", "rotate-me"} {
		if err := s.CreateRefreshToken(ctx, refreshRecord(h)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RotateRefreshToken(ctx, "used", t0.Add(time.Minute), "", nil, refreshRecord("used-next")); err != nil {
		t.Fatal(err)
	}

	release := holdWriter(t, s)
	commits := s.writer.commits.Load()
	type write struct {
		name    string
		do      func(ctx context.Context) error
		wantErr error // nil: must succeed
	}
	writes := []write{
		{"good-1", func(ctx context.Context) error { return s.CreateRefreshToken(ctx, refreshRecord("good-1")) }, nil},
		{"duplicate hash", func(ctx context.Context) error { return s.CreateRefreshToken(ctx, refreshRecord("taken")) }, storage.ErrAlreadyExists},
		{"good-2", func(ctx context.Context) error { return s.CreateRefreshToken(ctx, refreshRecord("good-2")) }, nil},
		// Its UPDATE of the old token succeeds, then the INSERT of next
		// fails: the UPDATE must be undone.
		{"rotation into a taken hash", func(ctx context.Context) error {
			_, err := s.RotateRefreshToken(ctx, "rotate-me", t0.Add(time.Minute), "", nil, refreshRecord("taken"))
			return err
		}, storage.ErrAlreadyExists},
		{"reuse", func(ctx context.Context) error {
			_, err := s.RotateRefreshToken(ctx, "used", t0.Add(time.Minute), "", nil, refreshRecord("used-again"))
			return err
		}, storage.ErrRefreshUsed},
		{"good-3", func(ctx context.Context) error { return s.CreateRefreshToken(ctx, refreshRecord("good-3")) }, nil},
	}
	errs := make([]error, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		wg.Go(func() { errs[i] = w.do(ctx) })
	}
	waitQueued(t, s, int64(len(writes)))
	release()
	wg.Wait()

	for i, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			switch {
			case w.wantErr == nil && errs[i] != nil:
				t.Errorf("error %v, want none", errs[i])
			case w.wantErr != nil && !errors.Is(errs[i], w.wantErr):
				t.Errorf("error %v, want %v", errs[i], w.wantErr)
			}
		})
	}
	if got := s.writer.commits.Load() - commits; got != 1 {
		t.Errorf("the writes took %d transactions, want 1", got)
	}
	for _, h := range []string{"good-1", "good-2", "good-3"} {
		if _, err := s.GetRefreshToken(ctx, h); err != nil {
			t.Errorf("GetRefreshToken %s: %v", h, err)
		}
	}
	old, err := s.GetRefreshToken(ctx, "rotate-me")
	if err != nil {
		t.Fatal(err)
	}
	if !old.UsedAt.IsZero() {
		t.Errorf("the failed rotation left rotate-me used at %s; its UPDATE must be rolled back", old.UsedAt)
	}
	if taken, err := s.GetRefreshToken(ctx, "taken"); err != nil || taken.FamilyID != "fam-taken" {
		t.Errorf("GetRefreshToken taken = %+v, %v; want the original record", taken, err)
	}
	if _, err := s.GetRefreshToken(ctx, "used-again"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetRefreshToken used-again = %v, want ErrNotFound", err)
	}
}

// TestGroupCommitWithdrawn cancels a write while it waits for the writer:
// its caller gets the context's error and nothing is written.
func TestGroupCommitWithdrawn(t *testing.T) {
	s := groupStore(t)
	release := holdWriter(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.CreateRefreshToken(ctx, refreshRecord("withdrawn")) }()
	waitQueued(t, s, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("CreateRefreshToken canceled while queued = %v, want context.Canceled", err)
	}
	release()
	if err := s.CreateRefreshToken(t.Context(), refreshRecord("after")); err != nil {
		t.Fatalf("CreateRefreshToken after: %v", err)
	}
	if _, err := s.GetRefreshToken(t.Context(), "withdrawn"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetRefreshToken withdrawn = %v, want ErrNotFound", err)
	}
}

// TestGroupCommitClosed: writes after Close fail with ErrUnavailable.
func TestGroupCommitClosed(t *testing.T) {
	s := groupStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRefreshToken(t.Context(), refreshRecord("late")); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("CreateRefreshToken after Close = %v, want ErrUnavailable", err)
	}
}
