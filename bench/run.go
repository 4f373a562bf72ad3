package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// bench is one `make bench`.
type bench struct {
	cfg    config
	seq    int
	tokend *tokendProc
	bare   *bareProc
	w      *world

	scenarios []*scenario
	halfRPS   *scenario
	halfBare  *scenario // the bare server at the same rate
	started   time.Time
	loadAvg   string // /proc/loadavg before the first run
	loadAfter string // and after the last
	peakRSS   int64  // VmHWM of tokend over the whole benchmark
	endRSS    int64
	profiles  []profile
	mem       *memoryResult
}

// scenario is one measured load, run cfg.runs times.
type scenario struct {
	id, title string
	target    float64 // minimum ratio to the floor; 0: none
	noWarmup  bool
	load      func(ctx context.Context, round int) (load, error)
	example   load // for the printed command
	runs      []result
}

const (
	callHealth   = "grpc.health.v1.Health/Check"
	callValidate = "tokend.v1.TokenService/ValidateToken"
	callIssue    = "tokend.v1.TokenService/IssueToken"
	callRefresh  = "tokend.v1.TokenService/RefreshToken"
	callCheck    = "envoy.service.auth.v3.Authorization/Check"
)

func run(ctx context.Context, cfg config) error {
	b := &bench{cfg: cfg, started: time.Now(), loadAvg: loadAvg()}
	log.Printf("load average before: %s; %d runs of %s per scenario, -c %d, --connections %d",
		b.loadAvg, cfg.runs, cfg.duration, cfg.concurrency, cfg.connections)

	var err error
	if b.bare, err = startBare(cfg.bareBin); err != nil {
		return err
	}
	defer b.bare.stop()
	adminKey := randomKey()
	dataDir := filepath.Join(cfg.outDir, "data")
	if b.tokend, err = startTokend(ctx, cfg.tokendBin, dataDir, adminKey, filepath.Join(cfg.outDir, "tokend.log"), cfg.tokendFlags); err != nil {
		return err
	}
	defer func() {
		if b.tokend != nil {
			_ = b.tokend.stop()
		}
	}()
	log.Printf("tokend on %s (http %s), bare server on %s", b.tokend.grpc, b.tokend.http, b.bare.addr)
	if b.w, err = setup(ctx, b.tokend.grpc, adminKey); err != nil {
		return err
	}
	defer b.w.issuer.Close()
	if err := b.prepare(); err != nil {
		return err
	}

	if cfg.warmup > 0 {
		for _, s := range b.scenarios {
			if s.noWarmup {
				continue
			}
			l, err := s.load(ctx, 0)
			if err != nil {
				return err
			}
			if _, err := b.ghz(ctx, "warmup-"+s.id, l, cfg.warmup); err != nil {
				return err
			}
		}
	}
	for round := 1; round <= cfg.runs; round++ {
		for _, s := range b.scenarios {
			l, err := s.load(ctx, round)
			if err != nil {
				return err
			}
			res, err := b.ghz(ctx, s.id, l, cfg.duration)
			if err != nil {
				return err
			}
			s.runs = append(s.runs, res)
			log.Printf("round %d %-20s %8.0f rps  p50 %-10s p99 %-10s cpu/call %-8s errors %d %v", round, s.id, res.RPS, res.P50, res.P99, res.CPUPerCall, res.Errors, res.ErrDist)
		}
	}
	if cfg.only == nil || cfg.only["validate-half-rps"] {
		if err := b.runHalfRPS(ctx); err != nil {
			return err
		}
	}
	if b.endRSS, b.peakRSS, err = b.tokend.memory(); err != nil {
		return err
	}
	log.Printf("tokend RSS %s, peak %s", mib(b.endRSS), mib(b.peakRSS))
	if cfg.profile {
		ids := []string{"validate-first-seen", "validate-repeated"}
		if cfg.only != nil { // an experiment: profile what it runs
			ids = nil
			for _, s := range b.scenarios {
				if s.id != "bare" && s.id != "floor" {
					ids = append(ids, s.id)
				}
			}
		}
		if err := b.takeProfiles(ctx, ids); err != nil {
			return err
		}
	}
	b.loadAfter = loadAvg()
	if err := b.tokend.stop(); err != nil {
		log.Printf("stopping tokend: %v", err)
	}
	b.tokend = nil
	if cfg.memory && cfg.only == nil {
		if b.mem, err = b.memoryScenario(ctx); err != nil {
			return err
		}
	}
	if cfg.only != nil {
		return nil // an experiment: the log above is the result
	}
	return b.report()
}

// prepare writes the data files and defines the scenarios.
func (b *bench) prepare() error {
	w, out := b.w, b.cfg.outDir
	firstSeen := filepath.Join(out, "first-seen.bin")
	log.Printf("signing %d first-seen tokens with the app's downloaded private key", b.cfg.firstSeen)
	if err := w.firstSeenFile(firstSeen, b.cfg.firstSeen); err != nil {
		return err
	}
	invalid := filepath.Join(out, "invalid.bin")
	if err := w.invalidFile(invalid, 3000); err != nil {
		return err
	}
	check := filepath.Join(out, "ext-authz.bin")
	if err := writeMessages(check, []*authv3.CheckRequest{extAuthzRequest(w.repeatedToken)}); err != nil {
		return err
	}
	tokend := b.tokend.grpc
	validator := func(l load) load { l.apiKey, l.keyName = w.validatorKey, "VALIDATOR_KEY"; return l }
	issuer := func(l load) load { l.apiKey, l.keyName = w.issuerKey, "ISSUER_KEY"; return l }
	fixed := func(l load) func(context.Context, int) (load, error) {
		return func(context.Context, int) (load, error) { return l, nil }
	}
	health := load{call: callHealth, data: "{}"}
	bareHealth, floorHealth := health, health
	bareHealth.addr, floorHealth.addr = b.bare.addr, tokend
	repeated := validator(load{call: callValidate, addr: tokend, data: fmt.Sprintf(`{"token":%q}`, w.repeatedToken)})
	issueReq := fmt.Sprintf(`{"app_id":%q,"subject":"user-1"}`, w.appID)
	issueRefreshReq := fmt.Sprintf(`{"app_id":%q,"subject":"user-1","issue_refresh_token":true}`, w.appID)
	b.scenarios = []*scenario{
		{id: "bare", title: "gRPC health Check, bare grpc-go server (bench/bare)", example: bareHealth},
		{id: "floor", title: "gRPC health Check on tokend (the floor)", example: floorHealth},
		{id: "validate-repeated", title: "ValidateToken, one repeated token (cache hit)", target: 0.80, example: repeated},
		{id: "validate-first-seen", title: fmt.Sprintf("ValidateToken, first-seen ES256 tokens (%d distinct)", b.cfg.firstSeen), target: 0.38,
			example: validator(load{call: callValidate, addr: tokend, binFile: firstSeen})},
		{id: "validate-invalid", title: "ValidateToken, invalid tokens (bad signature, unknown kid, garbage)",
			example: validator(load{call: callValidate, addr: tokend, binFile: invalid})},
		{id: "ext-authz", title: "ext_authz Check, repeated token", example: validator(load{call: callCheck, addr: tokend, binFile: check})},
		{id: "issue", title: "IssueToken ES256", target: 0.40, example: issuer(load{call: callIssue, addr: tokend, data: issueReq})},
		{id: "issue-refresh", title: "IssueToken ES256 + refresh token (SQLite)", target: 0.25,
			example: issuer(load{call: callIssue, addr: tokend, data: issueRefreshReq})},
	}
	for _, s := range b.scenarios {
		s.load = fixed(s.example)
	}
	refreshFile := filepath.Join(out, "refresh-tokens.bin")
	refresh := &scenario{id: "refresh", title: "RefreshToken, each call a fresh refresh token (SQLite)", target: 0.20, noWarmup: true,
		example: issuer(load{call: callRefresh, addr: tokend, binFile: refreshFile})}
	issueRefresh := b.scenarios[len(b.scenarios)-1]
	refresh.load = func(ctx context.Context, round int) (load, error) {
		// Enough fresh refresh tokens for the run: half as many again as
		// IssueToken with refresh made in the same time, which is faster.
		n := 20000
		if len(issueRefresh.runs) > 0 {
			n = max(n, int(1.5*issueRefresh.runs[len(issueRefresh.runs)-1].RPS*b.cfg.duration.Seconds()))
		}
		log.Printf("round %d: pre-issuing %d refresh tokens", round, n)
		if err := w.refreshFile(ctx, refreshFile, n); err != nil {
			return load{}, err
		}
		return refresh.example, nil
	}
	b.scenarios = append(b.scenarios, refresh)
	if b.cfg.only != nil {
		var keep []*scenario
		for _, s := range b.scenarios {
			if b.cfg.only[s.id] {
				keep = append(keep, s)
			}
		}
		b.scenarios = keep
	}
	halfRepeated, halfBareHealth := repeated, bareHealth
	halfRepeated.plain, halfBareHealth.plain = true, true
	b.halfRPS = &scenario{id: "validate-half-rps", title: "ValidateToken, repeated token at half its max RPS", example: halfRepeated}
	b.halfBare = &scenario{id: "bare-half-rps", title: "bare server health Check at the same rate", example: halfBareHealth}
	return nil
}

// runHalfRPS measures ValidateToken's latency at half its median maximum
// rate.
func (b *bench) runHalfRPS(ctx context.Context) error {
	rep := b.byID("validate-repeated")
	half := int(medianRPS(rep.runs) / 2)
	for _, s := range []*scenario{b.halfRPS, b.halfBare} {
		s.example.rps = half
	}
	// A warm-up at the same rate, as every scenario of the rounds has one:
	// the rounds end with the write scenarios, whose aftermath (the
	// runtime returning their memory, SQLite's checkpoint) would otherwise
	// land in the first measured run.
	if b.cfg.warmup > 0 {
		for _, s := range []*scenario{b.halfRPS, b.halfBare} {
			if _, err := b.ghz(ctx, "warmup-"+s.id, s.example, b.cfg.warmup); err != nil {
				return err
			}
		}
	}
	for range b.cfg.halfRuns { // interleaved, like the rounds
		for _, s := range []*scenario{b.halfRPS, b.halfBare} {
			res, err := b.ghz(ctx, s.id, s.example, b.cfg.duration)
			if err != nil {
				return err
			}
			s.runs = append(s.runs, res)
			log.Printf("%s (%d/s): %8.0f rps  p50 %-10s p99 %s errors %d", s.id, half, res.RPS, res.P50, res.P99, res.Errors)
		}
	}
	return nil
}

// pidOf returns the pid of the server listening on addr (0 if none).
func (b *bench) pidOf(addr string) int {
	switch {
	case b.bare != nil && addr == b.bare.addr:
		return b.bare.cmd.Process.Pid
	case b.tokend != nil && addr == b.tokend.grpc:
		return b.tokend.cmd.Process.Pid
	}
	return 0
}

func (b *bench) byID(id string) *scenario {
	for _, s := range b.scenarios {
		if s.id == id {
			return s
		}
	}
	panic("no scenario " + id)
}

func medianRPS(rs []result) float64 {
	return median(rs, func(a, b result) bool { return a.RPS < b.RPS }).RPS
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "tkd_" + base64.RawURLEncoding.EncodeToString(b)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(val)
		}
	}
	return runtime.GOARCH
}
