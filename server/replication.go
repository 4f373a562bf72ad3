package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/refresh"
	"github.com/tokend/tokend/server/storage"
)

// replicator keeps the in-memory state of this replica (key registry,
// caller directory, denylist) in step with the changes other replicas
// make to a shared store, as its change feed reports them: an app or its
// keys changed -> that app is synced from the store; a caller or API key
// changed -> the directory reloads; a revocation -> its entry goes into
// the denylist as it is (no query); a (re)connection of the feed, and
// every Config.ResyncInterval -> everything is synced. It writes through
// the Registry and the Denylist, so their OnChange/OnAdd hooks (WatchKeys)
// see these changes like local ones. docs/postgres.md tells the whole
// story.
type replicator struct {
	feed     storage.ChangeFeed
	store    storage.Store
	keys     *keys.Manager
	dir      *auth.Directory
	deny     *refresh.Denylist
	now      func() time.Time
	log      *slog.Logger
	interval time.Duration

	connected atomic.Bool  // the feed listens (tokend_change_feed_connected)
	synced    atomic.Int64 // Unix ns of the last complete resync
}

// newReplicator returns nil when the store has no change feed (SQLite:
// one process, nothing to follow). It registers the replication gauges.
func (s *Server) newReplicator(km *keys.Manager, deny *refresh.Denylist) (*replicator, error) {
	if s.feed == nil {
		return nil, nil
	}
	r := &replicator{feed: s.feed, store: s.store, keys: km, dir: s.dir, deny: deny, now: s.now, log: s.log, interval: s.cfg.ResyncInterval}
	r.synced.Store(s.now().UnixNano()) // New loaded everything
	err := errors.Join(
		s.ops.metrics.Gauge("tokend_change_feed_connected",
			"1 while this replica listens to the store's change notifications (PostgreSQL LISTEN/NOTIFY), 0 while it reconnects.",
			func() float64 {
				if r.connected.Load() {
					return 1
				}
				return 0
			}),
		s.ops.metrics.Gauge("tokend_replica_resynced_timestamp_seconds",
			"When this replica last re-read everything it caches from the store (Unix seconds): at start, after each reconnection of the change feed, every resync interval.",
			func() float64 { return float64(r.synced.Load()) / 1e9 }),
	)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return r, nil
}

// changeBatch is what a run of changes read together asks for.
type changeBatch struct {
	resync      bool
	apps        []string
	seen        map[string]bool
	callers     bool
	revocations []storage.Revocation
	reloadRevs  bool
	// feed is the state of the change feed after these changes
	// (feedUnknown: they say nothing of it); lost is why it was lost.
	feed feedState
	lost error
}

type feedState int

const (
	feedUnknown feedState = iota
	feedUp
	feedDown
)

func (b *changeBatch) add(c storage.Change) {
	switch c.Kind {
	case storage.ChangeApp:
		if b.seen == nil {
			b.seen = map[string]bool{}
		}
		if !b.seen[c.AppID] {
			b.seen[c.AppID] = true
			b.apps = append(b.apps, c.AppID)
		}
	case storage.ChangeCaller:
		b.callers = true
	case storage.ChangeRevocation:
		b.revocations = append(b.revocations, c.Revocation)
	case storage.ChangeRevocations:
		b.reloadRevs = true
	case storage.ChangeDisconnected:
		b.feed, b.lost = feedDown, c.Err
	case storage.ChangeResync:
		b.resync, b.feed = true, feedUp
	default: // a kind this version does not know
		b.resync = true
	}
}

const (
	// maxBatch bounds how many queued changes one round applies together.
	maxBatch = 1024
	// applyTimeout bounds the store reads of one round (a store that
	// hangs rather than fails).
	applyTimeout = 30 * time.Second
	// retryMin is the first delay before a failed round is made good by a
	// resync; it doubles up to the resync interval.
	retryMin = time.Second
)

// run applies changes until ctx is done.
func (r *replicator) run(ctx context.Context) {
	changes, err := r.feed.Changes(ctx)
	if err != nil {
		r.log.WarnContext(ctx, "no change feed: changes of other replicas are seen at the periodic resync only",
			slog.String("error", err.Error()), slog.Duration("resync_interval", r.interval))
	}
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	var (
		retry      <-chan time.Time // pending after a failed round: a resync makes it good
		retryDelay = retryMin
		feed       = feedUnknown
	)
	for {
		var b changeBatch
		select {
		case <-ctx.Done():
			return
		case c, ok := <-changes:
			if !ok { // the store is closing
				changes = nil
				continue
			}
			b.add(c)
		drain:
			for range maxBatch {
				select {
				case c, ok := <-changes:
					if !ok {
						break drain
					}
					b.add(c)
				default:
					break drain
				}
			}
		case <-tick.C:
			b.resync = true
		case <-retry:
			b.resync = true
		}
		feed = r.feedChanged(ctx, feed, &b)
		actx, cancel := context.WithTimeout(ctx, applyTimeout)
		err := r.apply(actx, &b)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if retry == nil {
				r.log.WarnContext(ctx, "applying changes of other replicas failed; resyncing soon",
					slog.String("error", err.Error()), slog.Duration("retry_in", retryDelay))
			}
			retry = time.After(retryDelay)
			retryDelay = min(2*retryDelay, r.interval)
		case b.resync:
			if retry != nil {
				r.log.InfoContext(ctx, "resynced with the store after a failure")
			}
			retry, retryDelay = nil, retryMin
			r.synced.Store(r.now().UnixNano())
		}
		if r.log.Enabled(ctx, slog.LevelDebug) {
			r.log.DebugContext(ctx, "applied changes of other replicas", slog.Bool("resync", b.resync),
				slog.Int("revocations", len(b.revocations)), slog.Int("apps", len(b.apps)), slog.Bool("callers", b.callers),
				slog.Bool("failed", err != nil))
		}
	}
}

// feedChanged logs and records a change of the feed's state and returns
// the new state.
func (r *replicator) feedChanged(ctx context.Context, was feedState, b *changeBatch) feedState {
	if b.lost != nil && was != feedDown {
		r.log.WarnContext(ctx, "change feed lost; reconnecting (changes of other replicas are seen once it is back)",
			slog.String("error", b.lost.Error()))
	}
	switch {
	case b.feed == feedUp && was == feedDown, b.feed == feedUp && b.lost != nil:
		r.log.InfoContext(ctx, "change feed reconnected; resyncing")
	case b.feed == feedUp && was == feedUnknown:
		r.log.InfoContext(ctx, "following the changes of other replicas (change feed connected)")
	}
	if b.feed == feedUnknown {
		return was
	}
	r.connected.Store(b.feed == feedUp)
	return b.feed
}

// apply applies a batch: revocations first (they need no query and are
// the most urgent), then apps, then callers. A resync replaces the rest.
func (r *replicator) apply(ctx context.Context, b *changeBatch) error {
	r.deny.Merge(b.revocations...)
	if b.resync {
		return r.resync(ctx)
	}
	var errs []error
	if b.reloadRevs {
		errs = append(errs, r.syncDenylist(ctx))
	}
	for _, id := range b.apps {
		if _, err := r.keys.Sync(ctx, r.store, id); err != nil {
			errs = append(errs, err)
		}
	}
	if b.callers {
		errs = append(errs, r.dir.Reload(ctx))
	}
	return errors.Join(errs...)
}

// resync brings everything in line with the store.
func (r *replicator) resync(ctx context.Context) error {
	_, err := r.keys.SyncAll(ctx, r.store)
	return errors.Join(err, r.dir.Reload(ctx), r.syncDenylist(ctx))
}

// syncDenylist adds the stored entries the denylist lacks. Entries are
// never taken out (the sweeper drops them when they expire), so a resync
// racing a revocation of this process cannot lose it.
func (r *replicator) syncDenylist(ctx context.Context) error {
	rs, err := r.store.ListRevocations(ctx, r.now())
	if err != nil {
		return err
	}
	r.deny.Merge(rs...)
	return nil
}
