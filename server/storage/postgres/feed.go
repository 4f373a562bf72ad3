package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/server/storage"
)

var _ storage.ChangeFeed = (*Store)(nil)

// notifyChannel is the channel the triggers of migration 0002 notify.
const notifyChannel = "tokend_changes"

// Timings of a change feed's connection.
const (
	// feedIdle is how long the connection may stay silent before it is
	// pinged, so that a connection lost without a word (a network cut)
	// is noticed within feedIdle + feedPingTimeout.
	feedIdle        = 30 * time.Second
	feedPingTimeout = 5 * time.Second
	// A lost connection is tried again after feedMinBackoff, doubling up
	// to feedMaxBackoff (each with up to 25% jitter, so that replicas do
	// not reconnect in step after a restart of PostgreSQL).
	feedMinBackoff = 50 * time.Millisecond
	feedMaxBackoff = time.Second
)

// Changes implements storage.ChangeFeed with LISTEN on a connection of its
// own (outside the pool): the triggers of migration 0002 notify every
// change of apps, keys, callers, API keys and revocations at commit. After
// every (re)connection it sends ChangeResync, since notifications sent
// while no connection listened are lost. Only the changes of the schema
// this Store uses are sent. The feed stops when ctx is done or the Store
// is closed.
func (s *Store) Changes(ctx context.Context) (<-chan storage.Change, error) {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	if s.closed.Load() {
		return nil, fmt.Errorf("postgres: changes: %w", storage.ErrUnavailable)
	}
	out := make(chan storage.Change, 256)
	ctx, cancel := context.WithCancel(ctx)
	s.feeds.Add(1)
	go func() {
		defer s.feeds.Done()
		defer close(out)
		defer cancel()
		go func() {
			select {
			case <-s.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		s.feed(ctx, out)
	}()
	return out, nil
}

// feed keeps a listening connection until ctx is done, reconnecting with
// backoff.
func (s *Store) feed(ctx context.Context, out chan<- storage.Change) {
	backoff := feedMinBackoff
	down := false // a ChangeDisconnected was sent and no connection since
	for {
		connected, err := s.listen(ctx, out)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff, down = feedMinBackoff, false
		}
		if !down {
			down = true
			if !send(ctx, out, storage.Change{Kind: storage.ChangeDisconnected, Err: err}) {
				return
			}
		}
		wait := backoff + time.Duration(rand.Int64N(int64(backoff/4)+1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, feedMaxBackoff)
	}
}

// listen connects, listens and sends what it hears until the connection
// fails or ctx is done. connected reports whether it got as far as
// listening.
func (s *Store) listen(ctx context.Context, out chan<- storage.Change) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, s.wrap(err, "changes: connect")
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var schema string
	if err := conn.QueryRow(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&schema); err != nil {
		return false, s.wrap(err, "changes: current schema")
	}
	if _, err := conn.Exec(ctx, `LISTEN `+notifyChannel); err != nil {
		return false, s.wrap(err, "changes: listen")
	}
	// Listening from now on: the consumer's resync reads what was
	// committed before, the notifications bring what is committed after.
	if !send(ctx, out, storage.Change{Kind: storage.ChangeResync}) {
		return true, ctx.Err()
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, feedIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if c, ok := decodeChange(n.Payload, schema); ok && !send(ctx, out, c) {
				return true, ctx.Err()
			}
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, feedPingTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				return true, s.wrap(err, "changes: ping")
			}
		default:
			return true, s.wrap(err, "changes: wait")
		}
	}
}

func send(ctx context.Context, out chan<- storage.Change, c storage.Change) bool {
	select {
	case out <- c:
		return true
	case <-ctx.Done():
		return false
	}
}

// notification is the JSON payload the triggers send (see migration 0002).
type notification struct {
	Schema string `json:"s"`
	Kind   string `json:"k"`
	ID     string `json:"id"`
	// A revocation.
	App       string `json:"app"`
	RevKind   string `json:"kind"`
	Value     string `json:"value"`
	RevokedAt int64  `json:"revoked_at"`
	ExpiresAt int64  `json:"expires_at"`
}

// decodeChange reads a notification's payload. It reports false for a
// change of another schema than this Store's; a payload it cannot read
// (written by a newer tokend, say) is a ChangeResync.
func decodeChange(payload, schema string) (storage.Change, bool) {
	var n notification
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return storage.Change{Kind: storage.ChangeResync}, true
	}
	if n.Schema != schema {
		return storage.Change{}, false
	}
	switch {
	case n.Kind == "app" && n.ID != "":
		return storage.Change{Kind: storage.ChangeApp, AppID: n.ID}, true
	case n.Kind == "caller":
		return storage.Change{Kind: storage.ChangeCaller, CallerID: n.ID}, true
	case n.Kind == "revocation" && n.App != "" && n.Value != "" &&
		(n.RevKind == string(storage.RevokeTokenID) || n.RevKind == string(storage.RevokeSubject)):
		return storage.Change{Kind: storage.ChangeRevocation, Revocation: storage.Revocation{
			AppID: n.App, Kind: storage.RevocationKind(n.RevKind), Value: n.Value,
			RevokedAt: fromNanos(n.RevokedAt), ExpiresAt: fromNanos(n.ExpiresAt),
		}}, true
	case n.Kind == "revocations":
		return storage.Change{Kind: storage.ChangeRevocations}, true
	}
	return storage.Change{Kind: storage.ChangeResync}, true
}

// fromNanos is the time a bigint column written by nanos holds (as
// timeCol reads it).
func fromNanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
