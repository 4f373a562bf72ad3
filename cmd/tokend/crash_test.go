package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	_ "modernc.org/sqlite" // PRAGMA integrity_check on the data dir's file

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
)

// crashFamily is one client's refresh token chain.
type crashFamily struct {
	mu      sync.Mutex
	first   string // the refresh token IssueToken returned
	current string // the newest refresh token this client received
	// pending is the idempotency key of a refresh whose answer never came
	// (the server died): the client retries it with the same key.
	pending   string
	rotations int
	lost      int // answers lost to a kill and retried after the restart
}

// crashWorld is what the clients were told: the state that must survive.
type crashWorld struct {
	mu   sync.Mutex
	apps map[string][]string // app id -> key ids answered for it
	fams []*crashFamily
}

func newCrashClient(t *testing.T, d *daemon, key string) *client.Client {
	t.Helper()
	c, err := client.New(d.addr, client.WithAPIKey(key), client.WithRetries(0), client.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// serverGone reports whether err is what a call gets from a server that
// was killed under it (or from the load's own stop).
func serverGone(err error) bool {
	var e *client.Error
	if !errors.As(err, &e) {
		return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
	}
	switch e.Code {
	case codes.Unavailable, codes.Canceled, codes.DeadlineExceeded:
		return true
	}
	return false
}

// TestCrashSafety runs load (refresh rotations of several clients, app
// creation, key rotation) against the real binary and kills it with
// SIGKILL at random points, five times. After every kill the SQLite file
// passes PRAGMA integrity_check, and after every restart: each client's
// newest refresh token works (a refresh whose answer was lost is retried
// with its idempotency key and succeeds, whether or not it had committed),
// and every app and key whose creation was answered exists and signs.
// TOKEND_CRASH_SEED replays the kill points of a run.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the binary: not in -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TOKEND_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("TOKEND_CRASH_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	const key = "tkd_crash-safety-admin-key-0123"
	dir := t.TempDir()
	d := startDaemon(t, dir, "TOKEND_ADMIN_KEY="+key)
	c := newCrashClient(t, d, key)
	ctx := t.Context()
	created, err := c.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "crash"})
	if err != nil {
		t.Fatal(err)
	}
	app := created.GetApp().GetAppId()
	w := &crashWorld{apps: map[string][]string{app: {created.GetKey().GetKeyId()}}}
	for range 6 {
		issued, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: app, Subject: "alice", IssueRefreshToken: true})
		if err != nil {
			t.Fatal(err)
		}
		w.fams = append(w.fams, &crashFamily{first: issued.GetRefreshToken(), current: issued.GetRefreshToken()})
	}

	const kills = 5
	for round := range kills {
		var killed atomic.Bool
		loadCtx, stopLoad := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for i, fam := range w.fams {
			wg.Go(func() { refreshLoad(t, loadCtx, c, fam, fmt.Sprintf("r%d-f%d", round, i), &killed) })
		}
		wg.Go(func() { adminLoad(t, loadCtx, c, w, round, &killed) })
		time.Sleep(time.Duration(150+rng.IntN(850)) * time.Millisecond)
		killed.Store(true)
		d.kill(t)
		stopLoad()
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		integrityCheck(t, filepath.Join(dir, "tokend.db"))

		d = startDaemon(t, dir, "TOKEND_ADMIN_KEY="+key)
		c = newCrashClient(t, d, key)
		checkSurvivors(t, c, w, round)
	}
	total, lost := 0, 0
	for _, fam := range w.fams {
		total += fam.rotations
		lost += fam.lost
	}
	t.Logf("%d kills, %d refresh rotations (%d answers lost to a kill, retried with their idempotency key), %d apps", kills, total, lost, len(w.apps))
	if total < kills*len(w.fams) {
		t.Errorf("only %d rotations: the load did not run", total)
	}

	// A token the client itself rotated long ago is reuse, not usable.
	_, err = c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: w.fams[0].first})
	if !errors.Is(err, client.ErrRefreshReused) {
		t.Errorf("the first refresh token of a family after %d rotations: %v, want REFRESH_TOKEN_REUSED", w.fams[0].rotations, err)
	}
	d.stop(t)
	integrityCheck(t, filepath.Join(dir, "tokend.db"))
}

// refreshLoad rotates one family as fast as it can until the server dies.
func refreshLoad(t *testing.T, ctx context.Context, c *client.Client, fam *crashFamily, tag string, killed *atomic.Bool) {
	for n := 0; ctx.Err() == nil; n++ {
		idem := fmt.Sprintf("%s-%d", tag, n)
		fam.mu.Lock()
		cur := fam.current
		fam.pending = idem
		fam.mu.Unlock()
		resp, err := c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: cur, IdempotencyKey: idem, Ttl: durationpb.New(15 * time.Minute)})
		if err != nil {
			if !killed.Load() || !serverGone(err) {
				t.Errorf("refresh before the kill: %v", err)
			}
			return // pending stays: the answer was lost
		}
		fam.mu.Lock()
		fam.current, fam.pending = resp.GetRefreshToken(), ""
		fam.rotations++
		fam.mu.Unlock()
	}
}

// adminLoad creates apps and rotates their keys until the server dies.
func adminLoad(t *testing.T, ctx context.Context, c *client.Client, w *crashWorld, round int, killed *atomic.Bool) {
	for n := 0; ctx.Err() == nil; n++ {
		created, err := c.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: fmt.Sprintf("crash-%d-%d", round, n)})
		if err != nil {
			if !killed.Load() || !serverGone(err) {
				t.Errorf("create app before the kill: %v", err)
			}
			return
		}
		id := created.GetApp().GetAppId()
		w.mu.Lock()
		w.apps[id] = []string{created.GetKey().GetKeyId()}
		w.mu.Unlock()
		rotated, err := c.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: id, ActivationDelay: durationpb.New(0)})
		if err != nil {
			if !killed.Load() || !serverGone(err) {
				t.Errorf("rotate key before the kill: %v", err)
			}
			return
		}
		w.mu.Lock()
		w.apps[id] = append(w.apps[id], rotated.GetKey().GetKeyId())
		w.mu.Unlock()
	}
}

// checkSurvivors checks, on the restarted server, everything the clients
// were told before the kill.
func checkSurvivors(t *testing.T, c *client.Client, w *crashWorld, round int) {
	t.Helper()
	ctx := t.Context()
	for i, fam := range w.fams {
		idem := fam.pending
		if idem != "" {
			fam.lost++
		} else {
			idem = fmt.Sprintf("after-%d-%d", round, i)
		}
		resp, err := c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: fam.current, IdempotencyKey: idem, Ttl: durationpb.New(15 * time.Minute)})
		if err != nil {
			t.Fatalf("round %d, family %d (answer lost: %v): the newest refresh token after the restart: %v", round, i, fam.pending != "", err)
		}
		v, err := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: resp.GetAccessToken()})
		if err != nil || !v.GetValid() {
			t.Fatalf("round %d, family %d: the access token after the restart: %v %v", round, i, v, err)
		}
		fam.current, fam.pending = resp.GetRefreshToken(), ""
		fam.rotations++
	}
	for id, kids := range w.apps {
		listed, err := c.ListAppKeys(ctx, &tokendv1.ListAppKeysRequest{AppId: id})
		if err != nil {
			t.Fatalf("round %d: app %s answered before the kill: %v", round, id, err)
		}
		have := map[string]bool{}
		for _, k := range listed.GetKeys() {
			have[k.GetKeyId()] = true
		}
		for _, kid := range kids {
			if !have[kid] {
				t.Fatalf("round %d: app %s lost key %s (has %v)", round, id, kid, have)
			}
		}
		if _, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: id, Subject: "after-crash"}); err != nil {
			t.Fatalf("round %d: app %s cannot sign after the restart: %v", round, id, err)
		}
	}
}

// integrityCheck opens the SQLite file read-only (with its WAL, as a
// restarted server would) and runs PRAGMA integrity_check.
func integrityCheck(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&res); err != nil {
		t.Fatalf("PRAGMA integrity_check: %v", err)
	}
	if res != "ok" {
		t.Fatalf("PRAGMA integrity_check: %s", res)
	}
	var apps int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM apps").Scan(&apps); err != nil || apps == 0 {
		t.Fatalf("apps in the file: %d, %v", apps, err)
	}
}
