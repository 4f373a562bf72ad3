package tokenapi

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/watch"
)

// DefaultWatchMaxAge is how long a WatchKeys stream lives before the
// server ends it (with OK) so that the client reconnects, resumes from
// its version and authenticates again: a deleted caller or a rotated-out
// API key stops receiving changes within this time.
const DefaultWatchMaxAge = 10 * time.Minute

// RevocationEntries lists the live denylist entries of the apps keep
// accepts; refresh.Denylist implements it.
type RevocationEntries interface {
	Entries(keep func(appID string) bool) []storage.Revocation
}

// watchSource is what WatchKeys streams from.
type watchSource struct {
	hub    *watch.Hub
	deny   RevocationEntries
	maxAge time.Duration
}

// WithWatch enables WatchKeys: full snapshots come from the registry and
// deny, changes from hub. maxAge bounds a stream's life (0:
// DefaultWatchMaxAge; each stream gets up to 10% less, so that clients
// do not all reconnect at once). Without WithWatch, WatchKeys answers
// UNIMPLEMENTED and clients fall back to polling GetJWKS.
func (s *TokenServer) WithWatch(hub *watch.Hub, deny RevocationEntries, maxAge time.Duration) *TokenServer {
	if maxAge <= 0 {
		maxAge = DefaultWatchMaxAge
	}
	s.watch = &watchSource{hub: hub, deny: deny, maxAge: maxAge}
	return s
}

// errWatchAge ends a stream that reached its maximum age.
var errWatchAge = errors.New("tokenapi: watch stream reached its maximum age")

// WatchKeys sends a full snapshot of the watched apps (or a resume
// message), then every change.
func (s *TokenServer) WatchKeys(req *tokendv1.WatchKeysRequest, stream grpc.ServerStreamingServer[tokendv1.WatchKeysResponse]) error {
	ctx := stream.Context()
	if s.watch == nil {
		return ToStatus(ctx, s.log, errUnimplemented)
	}
	appID := req.GetAppId()
	if err := auth.RequireApp(ctx, auth.RoleValidator, appID); err != nil {
		return ToStatus(ctx, s.log, err)
	}
	if appID != "" {
		if _, ok := s.registry.App(appID); !ok {
			return ToStatus(ctx, s.log, errAppNotFound)
		}
	}
	if req.GetResumeVersion() < 0 {
		return ToStatus(ctx, s.log, invalidField("resume_version", "must not be negative"))
	}
	caller, _ := auth.CallerFrom(ctx)
	w := &watcher{s: s, stream: stream, inScope: func(id string) bool {
		if appID != "" {
			return id == appID
		}
		return caller.MayUseApp(id)
	}}
	age := s.watch.maxAge - time.Duration(rand.Int64N(int64(s.watch.maxAge/10)+1))
	ctx, cancel := context.WithTimeoutCause(ctx, age, errWatchAge)
	defer cancel()
	err := w.run(ctx, req.GetResumeVersion()) // never nil: a stream ends by an error
	if errors.Is(err, watch.ErrClosed) || errors.Is(context.Cause(ctx), errWatchAge) {
		// The server is stopping, or the stream is old: end it cleanly;
		// the client reconnects (elsewhere) and resumes.
		return nil
	}
	return ToStatus(ctx, s.log, err)
}

// watcher is one WatchKeys stream.
type watcher struct {
	s       *TokenServer
	stream  grpc.ServerStreamingServer[tokendv1.WatchKeysResponse]
	inScope func(appID string) bool
}

func (w *watcher) run(ctx context.Context, from int64) error {
	for {
		sub, resumed := w.s.watch.hub.Subscribe(from)
		err := w.follow(ctx, sub, resumed)
		sub.Close()
		if !errors.Is(err, watch.ErrLagged) {
			return err
		}
		from = 0 // fell behind the ring: start over with a snapshot
	}
}

// follow sends the first message (a snapshot, or the changes missed since
// the resumed version) and then every change of sub that concerns the
// watched apps, coalescing whatever accumulated while sending.
func (w *watcher) follow(ctx context.Context, sub *watch.Subscription, resumed bool) error {
	var first *tokendv1.WatchKeysResponse
	if resumed {
		cs, err := sub.Poll()
		if err != nil {
			return err
		}
		first = w.changes(watch.Coalesce(cs))
		first.Version = sub.Version()
	} else {
		first = w.snapshot(sub.Version())
	}
	if err := w.stream.Send(first); err != nil {
		return err
	}
	for {
		cs, err := sub.Wait(ctx)
		if err != nil {
			return err
		}
		msg := w.changes(watch.Coalesce(cs))
		if len(msg.Apps) == 0 && len(msg.Revocations) == 0 {
			continue // nothing for this watcher
		}
		if err := w.stream.Send(msg); err != nil {
			return err
		}
	}
}

// snapshot is the full state of the watched apps at version or later (the
// subscription was made before the state is read, so nothing falls
// between them; a change both in the snapshot and sent after it is
// harmless: applying it again changes nothing).
func (w *watcher) snapshot(version int64) *tokendv1.WatchKeysResponse {
	now := w.s.now()
	msg := &tokendv1.WatchKeysResponse{Version: version, FullSnapshot: true}
	for _, id := range w.s.registry.AppIDs() {
		if w.inScope(id) {
			msg.Apps = append(msg.Apps, watchedApp(w.s.registry, id, now))
		}
	}
	for _, r := range w.s.watch.deny.Entries(w.inScope) {
		msg.Revocations = append(msg.Revocations, revocationToProto(r))
	}
	return msg
}

// changes is the message of a coalesced change: the current state of each
// changed app in scope, and the new revocations of apps in scope.
func (w *watcher) changes(c watch.Change) *tokendv1.WatchKeysResponse {
	now := w.s.now()
	msg := &tokendv1.WatchKeysResponse{Version: c.Version}
	for _, id := range c.Apps {
		if w.inScope(id) {
			msg.Apps = append(msg.Apps, watchedApp(w.s.registry, id, now))
		}
	}
	for _, r := range c.Revocations {
		if w.inScope(r.AppID) {
			msg.Revocations = append(msg.Revocations, revocationToProto(r))
		}
	}
	return msg
}

// watchedApp is the current policy and key set of an app at now; an app
// the registry no longer holds is reported deleted.
func watchedApp(reg *keys.Registry, appID string, now time.Time) *tokendv1.WatchedApp {
	ks, ok := reg.KeySet(appID, now)
	if !ok {
		return &tokendv1.WatchedApp{AppId: appID, Deleted: true}
	}
	out := &tokendv1.WatchedApp{AppId: appID, Enabled: ks.Policy.Enabled, JwksJson: string(ks.JWKS)}
	if ks.Policy.MaxTokenTTL > 0 {
		out.MaxTokenTtl = durationpb.New(ks.Policy.MaxTokenTTL)
	}
	if len(ks.VerifyUntil) > 0 {
		out.KeyVerifyUntil = make(map[string]*timestamppb.Timestamp, len(ks.VerifyUntil))
		for kid, t := range ks.VerifyUntil {
			out.KeyVerifyUntil[kid] = timestamppb.New(t)
		}
	}
	return out
}

func revocationToProto(r storage.Revocation) *tokendv1.Revocation {
	out := &tokendv1.Revocation{AppId: r.AppID, RevokedAt: ts(r.RevokedAt), ExpiresAt: ts(r.ExpiresAt)}
	switch r.Kind {
	case storage.RevokeTokenID:
		out.Target = &tokendv1.Revocation_TokenId{TokenId: r.Value}
	case storage.RevokeSubject:
		out.Target = &tokendv1.Revocation_Subject{Subject: r.Value}
	}
	return out
}
