package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
)

// procMemory reads the resident set of a process from /proc: now and its
// peak (VmHWM), in bytes.
func procMemory(t testing.TB, pid int) (rss, peak int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("/proc status %q: %v", line, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak
}

// scrape reads the Prometheus text of /metrics: every sample by its name
// with labels, as written.
func scrape(t testing.TB, httpAddr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// storeOps counts the store operations done so far, by operation.
func storeOps(m map[string]float64, ops ...string) float64 {
	var n float64
	for _, op := range ops {
		n += m[`tokend_store_operation_duration_seconds_count{operation="`+op+`"}`]
	}
	return n
}

// flood calls fn n times from conc goroutines, at most for limit; it
// returns the calls made.
func flood(ctx context.Context, n, conc int, limit time.Duration, fn func(ctx context.Context, i int) error) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil && ctx.Err() == nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	return min(int(next.Load()), n), first
}

func wantReason(err error, code codes.Code, reason string) error {
	var e *client.Error
	if !errors.As(err, &e) || e.Code != code || e.Reason != reason {
		return fmt.Errorf("got %v, want %s %s", err, code, reason)
	}
	return nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// TestResourceBounds floods the real binary, on loopback and bounded in
// count and time, with maximum-size requests, tokens of unknown key ids
// and random refresh tokens, while a probe keeps validating a real token.
// The service keeps answering (every probe within 2 s), memory stays
// bounded (peak RSS from /proc), unknown kids cause no store reads (the
// store operation counters of /metrics), and the goroutines return to
// their number after the flood.
func TestResourceBounds(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the binary: not in -short")
	}
	const key = "tkd_resource-bounds-admin-key-01"
	d := startDaemon(t, t.TempDir(), "TOKEND_ADMIN_KEY="+key)
	pid, httpAddr := d.cmd.Process.Pid, d.httpAddr(t)
	c, err := client.New(d.addr, client.WithAPIKey(key), client.WithRetries(0), client.WithTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	created, err := c.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "flood"})
	if err != nil {
		t.Fatal(err)
	}
	app := created.GetApp().GetAppId()
	issued, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: app, Subject: "probe"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flood(ctx, 2000, 16, 30*time.Second, func(ctx context.Context, _ int) error {
		_, err := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken()})
		return err
	}); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
	baseRSS, _ := procMemory(t, pid)
	before := scrape(t, httpAddr)
	baseGoroutines := before["go_goroutines"]

	// The probe: a real token must keep validating, promptly.
	probeCtx, stopProbe := context.WithCancel(ctx)
	var probeMax atomic.Int64
	var probes atomic.Int64
	var probeWG sync.WaitGroup
	probeWG.Go(func() {
		for probeCtx.Err() == nil {
			start := time.Now()
			v, err := c.ValidateToken(probeCtx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken()})
			if probeCtx.Err() != nil {
				return
			}
			if err != nil || !v.GetValid() {
				t.Errorf("probe during the flood: %v %v", v, err)
				return
			}
			probes.Add(1)
			if d := time.Since(start); int64(d) > probeMax.Load() {
				probeMax.Store(int64(d))
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	type phase struct {
		name  string
		n     int
		conc  int
		fn    func(ctx context.Context, i int) error
		extra func(t *testing.T, before, after map[string]float64, n int)
	}
	// A ValidateToken request of the largest size the server reads
	// (128 KiB by default), and one above it.
	bigToken := strings.Repeat("A", 127<<10)
	hugeToken := strings.Repeat("A", 200<<10)
	bigClaims, _ := structpb.NewStruct(map[string]any{"blob": strings.Repeat("x", 100<<10)})
	unknownKid := func() string {
		h := fmt.Sprintf(`{"alg":"ES256","kid":"k_%s","typ":"JWT"}`, b64(randomBytes(12)))
		p := fmt.Sprintf(`{"sub":"u","aid":%q,"iat":%d,"exp":%d}`, app, time.Now().Unix(), time.Now().Add(time.Hour).Unix())
		return b64([]byte(h)) + "." + b64([]byte(p)) + "." + b64(randomBytes(64))
	}
	phases := []phase{
		{name: "maximum-size ValidateToken", n: 1500, conc: 16, fn: func(ctx context.Context, _ int) error {
			_, err := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: bigToken})
			return wantReason(err, codes.InvalidArgument, "TOKEN_TOO_LARGE")
		}},
		{name: "over-size ValidateToken", n: 500, conc: 16, fn: func(ctx context.Context, _ int) error {
			_, err := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: hugeToken})
			var e *client.Error
			if !errors.As(err, &e) || e.Code != codes.ResourceExhausted {
				return fmt.Errorf("got %v, want RESOURCE_EXHAUSTED from the transport", err)
			}
			return nil
		}},
		{name: "maximum-size IssueToken claims", n: 300, conc: 8, fn: func(ctx context.Context, _ int) error {
			// The token would exceed what validation reads: refused.
			_, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: app, Subject: "big", Claims: bigClaims})
			return wantReason(err, codes.InvalidArgument, "INVALID_ARGUMENT")
		}},
		{name: "unknown kid", n: 20000, conc: 32, fn: func(ctx context.Context, _ int) error {
			v, err := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: unknownKid()})
			if err != nil || v.GetReason() != tokendv1.InvalidReason_INVALID_REASON_UNKNOWN_KEY {
				return fmt.Errorf("unknown kid: %v %v", v, err)
			}
			return nil
		}, extra: func(t *testing.T, before, after map[string]float64, n int) {
			// Key and app reads: the background maintainer's ticks only
			// (every --key-check-interval, 30 s), never one per request.
			keyReads := storeOps(after, "ListKeys", "ListAllKeys", "ListApps", "GetApp") - storeOps(before, "ListKeys", "ListAllKeys", "ListApps", "GetApp")
			t.Logf("unknown kid: %d requests, %.0f key or app reads from the store", n, keyReads)
			if keyReads > 10 {
				t.Errorf("%d tokens of unknown kids made %.0f key or app reads from the store", n, keyReads)
			}
		}},
		{name: "random refresh tokens", n: 10000, conc: 32, fn: func(ctx context.Context, i int) error {
			rt := "tkr_" + b64(randomBytes(32)) // well-formed: one indexed lookup of its hash
			if i%2 == 1 {
				rt = b64(randomBytes(40)) // garbage: refused before the store
			}
			_, err := c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: rt})
			return wantReason(err, codes.InvalidArgument, "REFRESH_TOKEN_INVALID")
		}, extra: func(t *testing.T, before, after map[string]float64, n int) {
			lookups := storeOps(after, "GetRefreshToken") - storeOps(before, "GetRefreshToken")
			t.Logf("random refresh tokens: %d requests, %.0f refresh token lookups", n, lookups)
			if lookups > float64(n/2+10) {
				t.Errorf("%d random refresh tokens (half of them garbage) made %.0f store lookups", n, lookups)
			}
		}},
	}
	for _, ph := range phases {
		m0 := scrape(t, httpAddr)
		start := time.Now()
		n, err := flood(ctx, ph.n, ph.conc, 90*time.Second, ph.fn)
		elapsed := time.Since(start)
		if err != nil {
			t.Fatalf("%s: %v", ph.name, err)
		}
		if n < ph.n {
			t.Fatalf("%s: only %d of %d calls within the time bound", ph.name, n, ph.n)
		}
		rss, peak := procMemory(t, pid)
		t.Logf("%-32s %6d calls in %5.1fs (%6.0f/s), RSS %4d MiB, peak %4d MiB", ph.name, n, elapsed.Seconds(),
			float64(n)/elapsed.Seconds(), rss>>20, peak>>20)
		if ph.extra != nil {
			ph.extra(t, m0, scrape(t, httpAddr), n)
		}
	}
	stopProbe()
	probeWG.Wait()
	t.Logf("probe: %d validations during the flood, slowest %s", probes.Load(), time.Duration(probeMax.Load()).Round(time.Millisecond))
	if probes.Load() < 10 || time.Duration(probeMax.Load()) > 2*time.Second {
		t.Errorf("the service did not keep answering: %d probes, slowest %s", probes.Load(), time.Duration(probeMax.Load()))
	}

	_, peak := procMemory(t, pid)
	t.Logf("RSS before the flood %d MiB, peak during it %d MiB", baseRSS>>20, peak>>20)
	if peak-baseRSS > 128<<20 {
		t.Errorf("peak RSS grew by %d MiB during the flood (bound 128 MiB)", (peak-baseRSS)>>20)
	}
	// Goroutines come back: nothing per request is left behind.
	var g float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if g = scrape(t, httpAddr)["go_goroutines"]; g <= baseGoroutines+10 {
			break
		}
	}
	t.Logf("goroutines before %.0f, after %.0f", baseGoroutines, g)
	if g > baseGoroutines+10 {
		t.Errorf("goroutines: %.0f before the flood, %.0f after it", baseGoroutines, g)
	}
	d.stop(t)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
