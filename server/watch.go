package server

import (
	"slices"
	"time"

	"github.com/tokend/tokend/server/refresh"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/tokenapi"
	"github.com/tokend/tokend/server/watch"
)

// WithoutWatchKeys turns WatchKeys off: it answers UNIMPLEMENTED, like a
// server that predates it, and clients' local validators fall back to
// polling GetJWKS.
func WithoutWatchKeys() Option { return func(s *Server) { s.noWatch = true } }

// enableWatch feeds the watch hub from the key registry and the denylist
// of this process and lets ts stream it (WatchKeys). hub.Publish is the
// single entry point: changes of other replicas go through it too.
func (s *Server) enableWatch(ts *tokenapi.TokenServer, deny *refresh.Denylist) *tokenapi.TokenServer {
	if s.noWatch {
		return ts
	}
	s.hub = watch.NewHub()
	s.registry.OnChange(func(ids []string) { s.hub.Publish(watch.Change{Apps: ids}) })
	deny.OnAdd(func(rs []storage.Revocation) { s.hub.Publish(watch.Change{Revocations: slices.Clone(rs)}) })
	return ts.WithWatch(s.hub, deny, s.watchMaxAge)
}

// closeWatch ends every WatchKeys stream (they return OK and clients
// reconnect elsewhere), so that a graceful stop need not wait for them.
func (s *Server) closeWatch() {
	if s.hub != nil {
		s.hub.Close()
	}
}

// WithWatchMaxAge sets how long a WatchKeys stream lives before the server
// ends it for the client to reconnect and authenticate again (default
// tokenapi.DefaultWatchMaxAge).
func WithWatchMaxAge(d time.Duration) Option { return func(s *Server) { s.watchMaxAge = d } }
