package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
)

// httpAddr is the HTTP address the daemon logged it serves on.
func (d *daemon) httpAddr(t *testing.T) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(d.stderr.String()))
	for sc.Scan() {
		var line struct{ Msg, HTTP string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "tokend serving" {
			return line.HTTP
		}
	}
	t.Fatalf("no serving line:\n%s", d.stderr.String())
	return ""
}

// callsStarted sums grpc_server_started_total and grpc_server_handled_total
// of the tokend services from /metrics.
func callsStarted(t *testing.T, httpAddr string) (started, handled float64) {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	var p expfmt.TextParser
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	sum := func(name string) float64 {
		total := 0.0
		for _, m := range mfs[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "grpc_service" && strings.HasPrefix(l.GetValue(), "tokend.v1.") {
					total += m.GetCounter().GetValue()
				}
			}
		}
		return total
	}
	return sum("grpc_server_started_total"), sum("grpc_server_handled_total")
}

// TestSIGTERMDrainsInFlightCalls sends SIGTERM to the real binary while
// hundreds of calls are in flight (RSA key generations, token issues with
// refresh tokens written to the store, validations), all on one
// connection: every call the server had started finishes without error,
// and the process exits 0.
func TestSIGTERMDrainsInFlightCalls(t *testing.T) {
	t.Parallel()
	const adminKey = "tkd_sigterm-admin-key-0123456789"
	d := startDaemon(t, t.TempDir(), "TOKEND_ADMIN_KEY="+adminKey, "TOKEND_SHUTDOWN_GRACE=60s",
		"TOKEND_MAX_CONCURRENT_STREAMS=100000", "TOKEND_ACCESS_LOG=errors",
		"TOKEND_RATE_LIMIT_ADMIN=unlimited", "TOKEND_RATE_LIMIT_ISSUER=unlimited")
	httpAddr := d.httpAddr(t)
	c, err := client.New(d.addr, client.WithAPIKey(adminKey), client.WithRetries(0), client.WithTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	created, err := c.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "sigterm", Algorithm: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	appID := created.GetApp().GetAppId()
	issued, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "warm-up"})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := callsStarted(t, httpAddr)

	const (
		rsaApps   = 12  // each generates an RSA key: slow
		issues    = 400 // each writes a refresh token
		validates = 400
	)
	var wg sync.WaitGroup
	errs := make(chan error, rsaApps+issues+validates)
	for range issues {
		wg.Go(func() {
			_, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: appID, Subject: "load", IssueRefreshToken: true})
			errs <- err
		})
	}
	for range validates {
		wg.Go(func() {
			v, err := c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: issued.GetAccessToken()})
			if err == nil && !v.GetValid() {
				err = fmt.Errorf("token answered invalid: %v", v.GetReason())
			}
			errs <- err
		})
	}
	// The slow calls go last, so that they run when the server has
	// started everything.
	for i := range rsaApps {
		wg.Go(func() {
			_, err := c.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: fmt.Sprintf("rsa-%d", i), Algorithm: "RS256"})
			errs <- err
		})
	}
	total := rsaApps + issues + validates

	// SIGTERM once the server has started every call, while some still run.
	deadline := time.Now().Add(30 * time.Second)
	var started, handled float64
	for {
		started, handled = callsStarted(t, httpAddr)
		if started-base >= float64(total) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server started %v of %d calls", started-base, total)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	inFlight := started - handled
	t.Logf("SIGTERM with %v of %d calls in flight", inFlight, total)
	if inFlight < 1 {
		t.Fatalf("every call had finished before SIGTERM: the test proves nothing (raise the load)")
	}

	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if failed < 5 {
				t.Errorf("call failed during shutdown: %v", err)
			}
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d calls failed", failed, total)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("tokend exited with %v after SIGTERM (want 0)\n%s", err, d.stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("tokend did not exit after SIGTERM")
	}
	if !strings.Contains(d.stderr.String(), "tokend stopped") {
		t.Errorf("no clean stop logged:\n%s", d.stderr.String())
	}
}
