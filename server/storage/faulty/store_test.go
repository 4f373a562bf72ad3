package faulty_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/faulty"
	"github.com/tokend/tokend/server/storage/sqlite"
	"github.com/tokend/tokend/server/storage/storagetest"
)

func open(t *testing.T) *faulty.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tokend.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return faulty.New(st)
}

// TestConformance: while working, the wrapper is the real store.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return open(t) })
}

func TestBreakAndRepair(t *testing.T) {
	t.Parallel()
	st := open(t)
	ctx := t.Context()
	app := storage.App{ID: "app_1", Name: "one", Enabled: true, CreatedAt: time.Unix(1, 0), UpdatedAt: time.Unix(1, 0)}
	if err := st.CreateApp(ctx, app, nil); err != nil {
		t.Fatal(err)
	}

	st.Break(nil)
	if err := st.Ping(ctx); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Ping while broken = %v, want ErrUnavailable", err)
	}
	if _, err := st.GetApp(ctx, "app_1"); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("GetApp while broken = %v, want ErrUnavailable", err)
	}
	custom := errors.New("disk full")
	st.Break(custom)
	if err := st.AddRevocations(ctx, nil); !errors.Is(err, custom) {
		t.Errorf("AddRevocations = %v, want the injected error", err)
	}

	st.Repair()
	if err := st.Ping(ctx); err != nil {
		t.Errorf("Ping after Repair = %v", err)
	}
	if got, err := st.GetApp(ctx, "app_1"); err != nil || got.Name != "one" {
		t.Errorf("GetApp after Repair = %+v, %v", got, err)
	}
	if n := st.Calls("GetApp"); n != 2 {
		t.Errorf("Calls(GetApp) = %d, want 2", n)
	}
}

func TestDelayHonoursTheContext(t *testing.T) {
	t.Parallel()
	st := open(t)
	st.SetDelay(time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := st.Ping(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Ping with a canceled context while delayed = %v, want context.Canceled", err)
	}
}
