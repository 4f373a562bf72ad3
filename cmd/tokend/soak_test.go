package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
)

// soakSample is one sampling interval of the soak.
type soakSample struct {
	at         time.Duration
	calls      int
	errors     int
	p50, p99   time.Duration
	rss, heap  int64
	goroutines float64
	denylist   float64
}

// soakStats collects the latencies of the current interval.
type soakStats struct {
	mu      sync.Mutex
	lat     []time.Duration
	errors  int
	lastErr error
}

func (s *soakStats) record(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lat = append(s.lat, d)
	if err != nil {
		s.errors++
		s.lastErr = err
	}
}

func (s *soakStats) take() ([]time.Duration, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lat, n, err := s.lat, s.errors, s.lastErr
	s.lat, s.errors, s.lastErr = make([]time.Duration, 0, len(lat)), 0, nil
	return lat, n, err
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// TestSoak runs mixed load (70% ValidateToken, 15% IssueToken, half of
// them with a refresh token, 10% RefreshToken, 5% RevokeToken by subject)
// against the real binary for TOKEND_SOAK_DURATION, sampling RPS, p50/p99
// latency, RSS (/proc), heap in use and goroutines (/metrics) every
// TOKEND_SOAK_SAMPLE (default: a twentieth of the duration). After the
// warm-up (the first quarter), RSS must stay flat, and once the load
// stops the goroutines must settle back to their warm-up count: no leak.
// `make soak` runs it for 10 minutes, `make test` for 20 s; it is
// skipped without TOKEND_SOAK_DURATION. TOKEND_SOAK_REPORT names a file
// for the Markdown table.
func TestSoak(t *testing.T) {
	env := os.Getenv("TOKEND_SOAK_DURATION")
	if env == "" {
		t.Skip("set TOKEND_SOAK_DURATION (make soak, make test-soak)")
	}
	duration, err := time.ParseDuration(env)
	if err != nil || duration < 10*time.Second {
		t.Fatalf("TOKEND_SOAK_DURATION=%q: want a duration of at least 10s", env)
	}
	sample := duration / 20
	if s := os.Getenv("TOKEND_SOAK_SAMPLE"); s != "" {
		if sample, err = time.ParseDuration(s); err != nil || sample <= 0 {
			t.Fatalf("TOKEND_SOAK_SAMPLE=%q: %v", s, err)
		}
	}
	const key = "tkd_soak-test-admin-key-0123456"
	// Access lines of successful calls at debug: the test keeps the
	// daemon's log in memory, and audit lines still come for every change.
	d := startDaemon(t, t.TempDir(), "TOKEND_ADMIN_KEY="+key, "TOKEND_ACCESS_LOG=errors")
	pid, httpAddr := d.cmd.Process.Pid, d.httpAddr(t)
	c, err := client.New(d.addr, client.WithAPIKey(key), client.WithRetries(0), client.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	created, err := c.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "soak", MaxTokenTtl: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	app := created.GetApp().GetAppId()

	// Pools: recent access tokens to validate, refresh tokens to rotate.
	const subjects = 64
	var tokens [256]atomic.Pointer[string]
	var tokenN atomic.Uint64
	refreshes := make(chan string, 512)
	// Revocations target the subjects of plain tokens ("user-N"): the
	// denylist then holds at most one entry per subject. Refresh families
	// belong to other subjects ("rt-N"): revoking a family puts every
	// access token issued from it on the denylist until it expires (the
	// app's max TTL), state that grows for an hour by design, not a leak.
	issue := func(ctx context.Context, r *rand.Rand, withRefresh bool) error {
		sub := fmt.Sprintf("user-%d", r.IntN(subjects))
		if withRefresh {
			sub = fmt.Sprintf("rt-%d", r.IntN(subjects))
		}
		resp, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: app, Subject: sub,
			Audience: []string{"svc"}, IssueRefreshToken: withRefresh})
		if err != nil {
			return err
		}
		tok := resp.GetAccessToken()
		tokens[tokenN.Add(1)%uint64(len(tokens))].Store(&tok)
		if withRefresh {
			select {
			case refreshes <- resp.GetRefreshToken():
			default:
			}
		}
		return nil
	}
	for range 64 {
		if err := issue(ctx, rand.New(rand.NewPCG(1, 2)), true); err != nil {
			t.Fatal(err)
		}
	}
	op := func(ctx context.Context, r *rand.Rand) error {
		switch p := r.IntN(100); {
		case p < 70:
			tok := tokens[r.IntN(len(tokens))].Load()
			if tok == nil {
				return issue(ctx, r, false)
			}
			v, err := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: *tok, Audience: "svc"})
			if err == nil && !v.GetValid() && v.GetReason() != tokendv1.InvalidReason_INVALID_REASON_REVOKED {
				return fmt.Errorf("validate: %s %s", v.GetReason(), v.GetDetail())
			}
			return err
		case p < 85:
			return issue(ctx, r, p < 78)
		case p < 95:
			var rt string
			select {
			case rt = <-refreshes:
			default:
				return issue(ctx, r, true)
			}
			resp, err := c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: rt, IdempotencyKey: fmt.Sprint(r.Uint64())})
			if err != nil {
				return err
			}
			select {
			case refreshes <- resp.GetRefreshToken():
			default:
			}
			return nil
		default:
			_, err := c.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: app, Reason: "soak",
				Target: &tokendv1.RevokeTokenRequest_Subject{Subject: fmt.Sprintf("user-%d", r.IntN(subjects))}})
			return err
		}
	}

	loadCtx, stop := context.WithTimeout(ctx, duration)
	defer stop()
	end, _ := loadCtx.Deadline()
	var stats soakStats
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for loadCtx.Err() == nil {
				start := time.Now()
				err := op(loadCtx, r)
				// At the deadline gRPC fails calls at once, before the
				// context's own timer has marked it done: not errors.
				if loadCtx.Err() != nil || !time.Now().Before(end) {
					return
				}
				stats.record(time.Since(start), err)
			}
		})
	}

	var samples []soakSample
	var all []time.Duration
	start := time.Now()
	tick := time.NewTicker(sample)
	for done := false; !done; {
		select {
		case <-loadCtx.Done():
			done = true
		case <-tick.C:
		}
		lat, errs, lastErr := stats.take()
		if errs > 0 {
			t.Errorf("%d errors in the interval, the last: %v", errs, lastErr)
		}
		slices.Sort(lat)
		all = append(all, lat...)
		rss, _ := procMemory(t, pid)
		m := scrape(t, httpAddr)
		samples = append(samples, soakSample{at: time.Since(start).Round(time.Second), calls: len(lat), errors: errs,
			p50: percentile(lat, 0.50), p99: percentile(lat, 0.99), rss: rss,
			heap: int64(m["go_memstats_heap_inuse_bytes"]), goroutines: m["go_goroutines"], denylist: m["tokend_denylist_entries"]})
	}
	tick.Stop()
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(all)

	var report strings.Builder
	fmt.Fprintf(&report, "| t | RPS | p50 | p99 | RSS MiB | heap in use MiB | goroutines | denylist |\n|---|---|---|---|---|---|---|---|\n")
	prev := time.Duration(0)
	for _, s := range samples {
		if s.calls == 0 && s.at == prev {
			continue // the stop, right after the last tick
		}
		secs := (s.at - prev).Seconds()
		prev = s.at
		fmt.Fprintf(&report, "| %s | %.0f | %s | %s | %d | %d | %.0f | %.0f |\n", s.at, float64(s.calls)/max(secs, 1e-3),
			s.p50.Round(10*time.Microsecond), s.p99.Round(10*time.Microsecond), s.rss>>20, s.heap>>20, s.goroutines, s.denylist)
	}
	fmt.Fprintf(&report, "\n%d calls in %s: %.0f RPS, p50 %s, p99 %s, p99.9 %s\n", len(all), elapsed.Round(time.Second),
		float64(len(all))/elapsed.Seconds(), percentile(all, 0.5).Round(10*time.Microsecond),
		percentile(all, 0.99).Round(10*time.Microsecond), percentile(all, 0.999).Round(10*time.Microsecond))
	t.Logf("soak report:\n%s", report.String())
	if path := os.Getenv("TOKEND_SOAK_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report.String()), 0o644); err != nil {
			t.Error(err)
		}
	}

	// Flat after the warm-up: the first quarter of the samples.
	warm := samples[len(samples)/4:]
	if len(warm) < 3 {
		t.Fatalf("only %d samples after the warm-up: sample more often (TOKEND_SOAK_SAMPLE)", len(warm))
	}
	base := warm[0]
	for _, s := range warm[1:] {
		if s.rss > base.rss+base.rss/4+16<<20 {
			t.Errorf("RSS grew after the warm-up: %d MiB at %s, %d MiB at %s", base.rss>>20, base.at, s.rss>>20, s.at)
		}
	}
	// Goroutines: the count under load swings with calls in flight and
	// with the cancellations at the stop, so the leak check waits for the
	// load to be gone and the count to settle back near the warm-up's.
	settled := 0.0
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		settled = scrape(t, httpAddr)["go_goroutines"]
		if settled <= base.goroutines+20 || time.Now().After(deadline) {
			break
		}
	}
	if settled > base.goroutines+20 {
		t.Errorf("goroutines leaked: %.0f at %s under load, still %.0f 10 s after the load stopped", base.goroutines, base.at, settled)
	}
	d.stop(t)
}
