package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultSweepInterval is how often the server's sweeper runs.
const DefaultSweepInterval = time.Minute

// SweepStore is the part of the store the Sweeper needs.
type SweepStore interface {
	SweepRevocations(ctx context.Context, now time.Time) (int, error)
	SweepRefreshTokens(ctx context.Context, now time.Time) (int, error)
}

// Sweeper deletes what can no longer matter: denylist entries past their
// expiry (in the store and in memory) and refresh tokens that can neither
// be used nor teach reuse detection anything (see
// storage.RefreshStore.SweepRefreshTokens). It keeps storage from growing
// without bound.
type Sweeper struct {
	store SweepStore
	deny  *Denylist
	log   *slog.Logger
}

// NewSweeper returns a Sweeper.
func NewSweeper(store SweepStore, deny *Denylist, log *slog.Logger) *Sweeper {
	return &Sweeper{store: store, deny: deny, log: log}
}

// Swept counts what one sweep deleted.
type Swept struct {
	// Revocations is the number of denylist entries deleted from the store.
	Revocations int
	// Denylist is the number of entries dropped from memory.
	Denylist int
	// RefreshTokens is the number of refresh token records deleted.
	RefreshTokens int
}

// Sweep deletes everything that expired before now. The memory denylist
// is swept even when the store fails: its expired entries cover only
// expired tokens.
func (s *Sweeper) Sweep(ctx context.Context, now time.Time) (Swept, error) {
	var out Swept
	var errs []error
	var err error
	if out.Revocations, err = s.store.SweepRevocations(ctx, now); err != nil {
		errs = append(errs, fmt.Errorf("refresh: sweep revocations: %w", err))
	}
	out.Denylist = s.deny.Sweep(now)
	if out.RefreshTokens, err = s.store.SweepRefreshTokens(ctx, now); err != nil {
		errs = append(errs, fmt.Errorf("refresh: sweep refresh tokens: %w", err))
	}
	return out, errors.Join(errs...)
}

// Run sweeps at once and then every interval, reading the time from now,
// until ctx is done. Failures are logged; the next round tries again.
func (s *Sweeper) Run(ctx context.Context, now func() time.Time, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if ctx.Err() != nil {
			return
		}
		swept, err := s.Sweep(ctx, now())
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.WarnContext(ctx, "sweep failed", slog.String("error", err.Error()))
		case swept != Swept{}:
			s.log.DebugContext(ctx, "swept expired revocations and refresh tokens",
				slog.Int("revocations", swept.Revocations), slog.Int("denylist", swept.Denylist),
				slog.Int("refresh_tokens", swept.RefreshTokens))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
