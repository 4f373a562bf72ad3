package healthcheck

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Pinger is the store as the Checker sees it.
type Pinger interface {
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
}

// Checker pings a store and remembers whether it is reachable. It starts
// up: the server opened the store before it made the Checker. It is safe
// for concurrent use.
type Checker struct {
	store    Pinger
	timeout  time.Duration
	log      *slog.Logger
	onChange func(up bool)

	up atomic.Bool
	mu sync.Mutex // one Check at a time, so changes are reported in order
}

// New returns a Checker of store whose pings give up after timeout.
// onChange, when not nil, is called on each change, with the new state.
func New(store Pinger, timeout time.Duration, log *slog.Logger, onChange func(up bool)) *Checker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Checker{store: store, timeout: timeout, log: log, onChange: onChange}
	c.up.Store(true)
	return c
}

// Up reports the result of the last check.
func (c *Checker) Up() bool { return c.up.Load() }

// Check pings the store now, records the result and reports it.
func (c *Checker) Check(ctx context.Context) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, c.timeout)
	err := c.store.Ping(pctx)
	cancel()
	if err != nil && ctx.Err() != nil {
		return c.up.Load() // the caller gave up: that says nothing of the store
	}
	up := err == nil
	if c.up.Swap(up) == up {
		return up
	}
	if up {
		c.log.InfoContext(ctx, "store reachable again: serving")
	} else {
		c.log.ErrorContext(ctx, "store unreachable: health NOT_SERVING until it is back", slog.String("error", err.Error()))
	}
	if c.onChange != nil {
		c.onChange(up)
	}
	return up
}

// Run checks the store every interval until ctx is done.
func (c *Checker) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Check(ctx)
		}
	}
}
