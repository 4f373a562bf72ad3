package tokenapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/refresh"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/tokenapi"
	"github.com/tokend/tokend/server/watch"
)

// heldStream is the server side of a WatchKeys stream whose client reads
// slowly: every Send after the first waits until the test releases it.
type heldStream struct {
	grpc.ServerStream
	ctx     context.Context
	sent    chan *tokendv1.WatchKeysResponse
	held    chan struct{} // closed when a Send waits
	release chan struct{}
	n       int
}

func (s *heldStream) Context() context.Context { return s.ctx }

func (s *heldStream) Send(m *tokendv1.WatchKeysResponse) error {
	if s.n++; s.n > 1 {
		if s.n == 2 {
			close(s.held)
		}
		select {
		case <-s.release:
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
	}
	s.sent <- m
	return nil
}

// TestWatchKeysSlowClientGetsSnapshot: while one stream's client does not
// read, revocations go on without waiting for it; once it reads again, it
// gets a full snapshot (the ring dropped changes it had not read) holding
// every revocation.
func TestWatchKeysSlowClientGetsSnapshot(t *testing.T) {
	t.Parallel()
	kek, err := keys.NewKEK(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	reg := keys.NewRegistry(kek)
	reg.PutApp(storage.App{ID: "app_a", Enabled: true})
	deny := refresh.NewDenylist()
	hub := watch.NewHub(watch.WithCapacity(4))
	deny.OnAdd(func(rs []storage.Revocation) { hub.Publish(watch.Change{Revocations: rs}) })
	srv := tokenapi.NewTokenServer(nil, nil, reg, nil, time.Now, slog.New(slog.DiscardHandler)).WithWatch(hub, deny, time.Hour)

	ctx, cancel := context.WithCancel(auth.WithCaller(t.Context(), auth.Caller{Name: "sidecar", Roles: []string{auth.RoleValidator}}))
	defer cancel()
	st := &heldStream{ctx: ctx, sent: make(chan *tokendv1.WatchKeysResponse, 10), held: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- srv.WatchKeys(&tokendv1.WatchKeysRequest{}, st) }()
	if snap := <-st.sent; !snap.GetFullSnapshot() || len(snap.GetApps()) != 1 {
		t.Fatalf("first message = %v, want a snapshot of app_a", snap)
	}

	revoke := func(i int) {
		now := time.Now()
		deny.Add(storage.Revocation{AppID: "app_a", Kind: storage.RevokeTokenID, Value: fmt.Sprintf("jti-%d", i), RevokedAt: now, ExpiresAt: now.Add(time.Hour)})
	}
	revoke(0) // the stream's next Send holds on it
	<-st.held
	published := make(chan struct{})
	go func() {
		for i := 1; i <= 20; i++ {
			revoke(i)
		}
		close(published)
	}()
	select {
	case <-published:
	case <-time.After(5 * time.Second):
		t.Fatal("revocations waited for a client that does not read")
	}

	close(st.release)
	var msgs []*tokendv1.WatchKeysResponse
	for len(msgs) < 2 {
		select {
		case m := <-st.sent:
			msgs = append(msgs, m)
		case <-time.After(5 * time.Second):
			t.Fatalf("got %v after the client read again, want the held change and a snapshot", msgs)
		}
	}
	if held := msgs[0]; held.GetFullSnapshot() || len(held.GetRevocations()) != 1 {
		t.Errorf("held message = %v, want the first revocation", held)
	}
	if snap := msgs[1]; !snap.GetFullSnapshot() || len(snap.GetRevocations()) != 21 || snap.GetVersion() != hub.Version() {
		t.Errorf("then: full=%v, %d revocations at version %d; want a snapshot of 21 at %d",
			snap.GetFullSnapshot(), len(snap.GetRevocations()), snap.GetVersion(), hub.Version())
	}

	hub.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WatchKeys after the hub closed = %v, want nil (a clean end)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchKeys did not return when the hub closed")
	}
}
