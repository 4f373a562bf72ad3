package postgres

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/storage/postgres/pgtest"
)

// TestDecodeChange reads payloads as the triggers write them, and
// payloads it cannot read; it needs no database.
func TestDecodeChange(t *testing.T) {
	rev := storage.Revocation{AppID: "app_1", Kind: storage.RevokeSubject, Value: "alice",
		RevokedAt: time.Unix(0, 1_900_000_000_123_456_789).UTC(), ExpiresAt: time.Unix(0, 1_900_000_086_400_000_000).UTC()}
	for _, tc := range []struct {
		name    string
		payload string
		want    storage.Change
		ok      bool
	}{
		{"app", `{"s":"public","k":"app","id":"app_1"}`, storage.Change{Kind: storage.ChangeApp, AppID: "app_1"}, true},
		{"caller", `{"s":"public","k":"caller","id":"c_1"}`, storage.Change{Kind: storage.ChangeCaller, CallerID: "c_1"}, true},
		{"revocation", `{"s":"public","k":"revocation","app":"app_1","kind":"subject","value":"alice","revoked_at":1900000000123456789,"expires_at":1900000086400000000}`,
			storage.Change{Kind: storage.ChangeRevocation, Revocation: rev}, true},
		{"revocation without expiry", `{"s":"public","k":"revocation","app":"a","kind":"token_id","value":"j","revoked_at":0,"expires_at":0}`,
			storage.Change{Kind: storage.ChangeRevocation, Revocation: storage.Revocation{AppID: "a", Kind: storage.RevokeTokenID, Value: "j"}}, true},
		{"revocations too big to send", `{"s":"public","k":"revocations"}`, storage.Change{Kind: storage.ChangeRevocations}, true},
		{"resync", `{"s":"public","k":"resync"}`, storage.Change{Kind: storage.ChangeResync}, true},
		{"another schema", `{"s":"other","k":"app","id":"app_1"}`, storage.Change{}, false},
		{"unknown kind", `{"s":"public","k":"policy","id":"x"}`, storage.Change{Kind: storage.ChangeResync}, true},
		{"unknown revocation kind", `{"s":"public","k":"revocation","app":"a","kind":"family","value":"f"}`, storage.Change{Kind: storage.ChangeResync}, true},
		{"app without id", `{"s":"public","k":"app"}`, storage.Change{Kind: storage.ChangeResync}, true},
		{"not JSON", `app_1`, storage.Change{Kind: storage.ChangeResync}, true},
		{"wrong type", `{"s":"public","k":"revocation","app":"a","kind":"token_id","value":"j","revoked_at":"yesterday"}`, storage.Change{Kind: storage.ChangeResync}, true},
		{"empty", ``, storage.Change{Kind: storage.ChangeResync}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := decodeChange(tc.payload, "public")
			if ok != tc.ok || got.Kind != tc.want.Kind || got.AppID != tc.want.AppID || got.CallerID != tc.want.CallerID ||
				!sameRevocation(got.Revocation, tc.want.Revocation) {
				t.Errorf("decodeChange(%s) = %+v, %v; want %+v, %v", tc.payload, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func sameRevocation(a, b storage.Revocation) bool {
	return a.AppID == b.AppID && a.Kind == b.Kind && a.Value == b.Value &&
		a.RevokedAt.Equal(b.RevokedAt) && a.ExpiresAt.Equal(b.ExpiresAt) && a.Reason == b.Reason
}

// next returns the next change of ch, failing after 5 s.
func next(t *testing.T, ch <-chan storage.Change) storage.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("the change feed closed")
		}
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no change within 5s")
	}
	return storage.Change{}
}

// quiet checks that ch sends nothing for a while.
func quiet(t *testing.T, ch <-chan storage.Change, what string) {
	t.Helper()
	select {
	case c := <-ch:
		t.Errorf("%s: got change %+v, want none", what, c)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestChanges writes through one Store and reads the notifications of
// another one on the same schema (another replica): one change per
// committed transaction and target, in commit order, the revocation
// entry itself, nothing of other schemas, nothing of rolled back writes.
func TestChanges(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	writer, reader := open(t, dsn), open(t, dsn)
	other := open(t, pgtest.DSN(t)) // another installation, same database
	ch, err := reader.Changes(ctx)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	if c := next(t, ch); c.Kind != storage.ChangeResync {
		t.Fatalf("first change = %+v, want a resync", c)
	}

	app := storage.App{ID: "app_1", Name: "one", Enabled: true, CreatedAt: t0, UpdatedAt: t0}
	keys := []storage.Key{
		{ID: "k1", AppID: app.ID, Algorithm: "ES256", PublicJWK: "{}", State: storage.KeyActive, CreatedAt: t0},
		{ID: "k2", AppID: app.ID, Algorithm: "ES256", PublicJWK: "{}", State: storage.KeyNext, CreatedAt: t0},
	}
	if err := other.CreateApp(ctx, app, keys); err != nil {
		t.Fatalf("CreateApp in another schema: %v", err)
	}
	quiet(t, ch, "a change of another schema")

	t.Run("app and keys", func(t *testing.T) {
		if err := writer.CreateApp(ctx, app, keys); err != nil {
			t.Fatalf("CreateApp: %v", err)
		}
		// One transaction, one app: one notification for the app row and
		// its two key rows.
		if c := next(t, ch); c.Kind != storage.ChangeApp || c.AppID != app.ID {
			t.Errorf("after CreateApp: %+v, want an app change of %s", c, app.ID)
		}
		if _, err := writer.UpdateApp(ctx, app.ID, func(a storage.App) (storage.App, error) { a.Enabled = false; return a, nil }); err != nil {
			t.Fatalf("UpdateApp: %v", err)
		}
		if c := next(t, ch); c.Kind != storage.ChangeApp || c.AppID != app.ID {
			t.Errorf("after UpdateApp: %+v, want an app change", c)
		}
		err := writer.UpdateKeys(ctx, app.ID, func(ks []storage.Key) ([]storage.Key, error) {
			ks[0].State, ks[1].State = storage.KeyVerifyOnly, storage.KeyActive
			return ks, nil
		})
		if err != nil {
			t.Fatalf("UpdateKeys: %v", err)
		}
		if c := next(t, ch); c.Kind != storage.ChangeApp || c.AppID != app.ID {
			t.Errorf("after UpdateKeys: %+v, want an app change", c)
		}
		abort := errors.New("abort")
		if err := writer.UpdateKeys(ctx, app.ID, func(ks []storage.Key) ([]storage.Key, error) { return ks, abort }); !errors.Is(err, abort) {
			t.Fatalf("aborted UpdateKeys = %v", err)
		}
		quiet(t, ch, "a rolled back UpdateKeys")
	})

	t.Run("callers", func(t *testing.T) {
		c := storage.Caller{ID: "c_1", Name: "svc", Roles: []string{"issuer"}, CreatedAt: t0}
		if err := writer.CreateCaller(ctx, c, storage.APIKey{Hash: "h1", CallerID: c.ID, CreatedAt: t0}); err != nil {
			t.Fatalf("CreateCaller: %v", err)
		}
		if got := next(t, ch); got.Kind != storage.ChangeCaller || got.CallerID != c.ID {
			t.Errorf("after CreateCaller: %+v, want a caller change of %s", got, c.ID)
		}
		if err := writer.AddAPIKey(ctx, storage.APIKey{Hash: "h2", CallerID: c.ID, CreatedAt: t0}, t0.Add(time.Hour)); err != nil {
			t.Fatalf("AddAPIKey: %v", err)
		}
		if got := next(t, ch); got.Kind != storage.ChangeCaller || got.CallerID != c.ID {
			t.Errorf("after AddAPIKey: %+v, want a caller change", got)
		}
		if err := writer.DeleteCaller(ctx, c.ID); err != nil {
			t.Fatalf("DeleteCaller: %v", err)
		}
		if got := next(t, ch); got.Kind != storage.ChangeCaller || got.CallerID != c.ID {
			t.Errorf("after DeleteCaller: %+v, want a caller change", got)
		}
	})

	t.Run("revocations", func(t *testing.T) {
		rs := []storage.Revocation{
			{AppID: app.ID, Kind: storage.RevokeTokenID, Value: "jti-1", RevokedAt: t0, ExpiresAt: t0.Add(time.Hour), Reason: "lost laptop"},
			{AppID: app.ID, Kind: storage.RevokeSubject, Value: "alice", RevokedAt: t0.Add(time.Nanosecond), ExpiresAt: t0.Add(24 * time.Hour)},
		}
		if err := writer.AddRevocations(ctx, rs); err != nil {
			t.Fatalf("AddRevocations: %v", err)
		}
		for _, want := range rs {
			want.Reason = "" // never sent
			if got := next(t, ch); got.Kind != storage.ChangeRevocation || !sameRevocation(got.Revocation, want) {
				t.Errorf("after AddRevocations: %+v, want the entry %+v", got, want)
			}
		}
		// An entry that changes nothing (expires earlier) is not sent; one
		// that expires later is.
		earlier, later := rs[0], rs[0]
		earlier.ExpiresAt, later.ExpiresAt = t0.Add(time.Minute), t0.Add(2*time.Hour)
		if err := writer.AddRevocations(ctx, []storage.Revocation{earlier}); err != nil {
			t.Fatal(err)
		}
		quiet(t, ch, "a revocation replacing nothing")
		if err := writer.AddRevocations(ctx, []storage.Revocation{later}); err != nil {
			t.Fatal(err)
		}
		if got := next(t, ch); got.Kind != storage.ChangeRevocation || !got.Revocation.ExpiresAt.Equal(later.ExpiresAt) {
			t.Errorf("after a later revocation: %+v, want it", got)
		}
		// An entry too big for a notification: reload instead.
		huge := storage.Revocation{AppID: app.ID, Kind: storage.RevokeSubject, Value: strings.Repeat("s", 8000), ExpiresAt: t0.Add(time.Hour)}
		if err := writer.AddRevocations(ctx, []storage.Revocation{huge}); err != nil {
			t.Fatalf("AddRevocations of a huge subject: %v", err)
		}
		if got := next(t, ch); got.Kind != storage.ChangeRevocations {
			t.Errorf("after a huge revocation: %+v, want a reload of revocations", got)
		}
		// Sweeps are not sent: every replica sweeps on its own clock.
		if _, err := writer.SweepRevocations(ctx, t0.Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		quiet(t, ch, "a sweep")
	})

	t.Run("close ends the feed", func(t *testing.T) {
		reader.Close()
		select {
		case c, ok := <-ch:
			if ok {
				t.Errorf("after Close: %+v, want the channel closed", c)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the feed is still open 5s after Close")
		}
		if _, err := reader.Changes(ctx); !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("Changes on a closed Store = %v, want ErrUnavailable", err)
		}
	})
}

// TestChangesReconnect cuts the feed's connection (through a proxy): the
// feed reports the loss, reconnects by itself when the server is back,
// and asks for a resync, since what changed meanwhile was not sent.
func TestChangesReconnect(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	direct := open(t, dsn)
	p := pgtest.StartProxy(t, dsn)
	viaProxy := open(t, p.DSN())
	ch, err := viaProxy.Changes(ctx)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	if c := next(t, ch); c.Kind != storage.ChangeResync {
		t.Fatalf("first change = %+v, want a resync", c)
	}

	p.Cut()
	if c := next(t, ch); c.Kind != storage.ChangeDisconnected || !errors.Is(c.Err, storage.ErrUnavailable) {
		t.Fatalf("after the cut: %+v, want disconnected (ErrUnavailable)", c)
	}
	// Missed: nobody listens through the proxy.
	if err := direct.CreateApp(ctx, storage.App{ID: "app_missed", CreatedAt: t0}, nil); err != nil {
		t.Fatal(err)
	}
	quiet(t, ch, "while disconnected (failed reconnections are not reported again)")

	start := time.Now()
	p.Restore()
	if c := next(t, ch); c.Kind != storage.ChangeResync {
		t.Fatalf("after the server came back: %+v, want a resync", c)
	}
	if d := time.Since(start); d > 2*feedMaxBackoff {
		t.Errorf("reconnected %v after the server came back, want at most %v", d, 2*feedMaxBackoff)
	}
	if err := direct.CreateApp(ctx, storage.App{ID: "app_after", CreatedAt: t0}, nil); err != nil {
		t.Fatal(err)
	}
	if c := next(t, ch); c.Kind != storage.ChangeApp || c.AppID != "app_after" {
		t.Errorf("after reconnecting: %+v, want the app change", c)
	}
}
