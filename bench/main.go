// Command bench is `make bench`: it starts tokend on its embedded store
// and a bare grpc-go server (bench/bare), drives both with ghz for a fixed
// time per scenario, and writes the results (table, ratios, plot,
// profiles, memory) into docs/benchmarks.md between the markers
// "<!-- bench:begin -->" and "<!-- bench:end -->", and the plot into
// docs/benchmarks.svg.
//
// Every scenario is reported as a ratio to the same tokend's gRPC health
// Check measured in the same run with the same ghz settings (the floor),
// and the floor as a ratio to the bare server. Each scenario runs
// BENCH_RUNS times, interleaved (round 1 runs every scenario, then round
// 2, ...), so that drift of the machine spreads over all of them; the
// median is reported.
//
// Settings come from the environment (the Makefile passes them on):
//
//	BENCH_DURATION     time per run (10s)
//	BENCH_WARMUP       warm-up per scenario before the first round (2s)
//	BENCH_CONCURRENCY  ghz -c (32)
//	BENCH_CONNECTIONS  ghz --connections (1)
//	BENCH_RUNS         runs per scenario, median reported (3)
//	BENCH_HALF_RUNS    runs of the half-rate p99 check, tokend's and the
//	                   bare server's interleaved, median reported (5: a
//	                   p99 moves more from run to run than a rate)
//	BENCH_FIRST_SEEN   distinct tokens of the first-seen scenario (120000)
//	BENCH_MEMORY       run the memory scenario (1)
//	BENCH_PROFILE      take CPU profiles of ValidateToken under load (1)
//	BENCH_OUT          scratch directory (a temp dir; kept when set)
//	BENCH_ONLY         comma-separated scenario ids to run (all); with it
//	                   the Markdown file is not touched (experiments)
//	BENCH_TOKEND_FLAGS extra flags for tokend serve (experiments)
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	tokendBin, ghzBin, bareBin string
	doc, svg                   string
	outDir                     string
	keepOut                    bool

	duration, warmup          time.Duration
	concurrency, connections  int
	runs, halfRuns, firstSeen int
	memory, profile           bool
	only                      map[string]bool // nil: every scenario
	tokendFlags               []string
}

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")
	var cfg config
	flag.StringVar(&cfg.tokendBin, "tokend", "bin/tokend", "tokend binary")
	flag.StringVar(&cfg.ghzBin, "ghz", "bin/ghz", "ghz binary (pinned in tools/go.mod)")
	flag.StringVar(&cfg.bareBin, "bare", "bin/bench-bare", "bare gRPC server binary (bench/bare)")
	flag.StringVar(&cfg.doc, "doc", "docs/benchmarks.md", "Markdown file whose bench section is rewritten")
	flag.StringVar(&cfg.svg, "svg", "docs/benchmarks.svg", "plot to write")
	flag.Parse()

	var err error
	cfg.duration = envDuration("BENCH_DURATION", 10*time.Second, &err)
	cfg.warmup = envDuration("BENCH_WARMUP", 2*time.Second, &err)
	cfg.concurrency = envInt("BENCH_CONCURRENCY", 32, &err)
	cfg.connections = envInt("BENCH_CONNECTIONS", 1, &err)
	cfg.runs = envInt("BENCH_RUNS", 3, &err)
	cfg.halfRuns = envInt("BENCH_HALF_RUNS", 5, &err)
	cfg.firstSeen = envInt("BENCH_FIRST_SEEN", 120000, &err)
	cfg.memory = envInt("BENCH_MEMORY", 1, &err) != 0
	cfg.profile = envInt("BENCH_PROFILE", 1, &err) != 0
	if err == nil && (cfg.runs < 1 || cfg.halfRuns < 1 || cfg.concurrency < 1 || cfg.connections < 1) {
		err = fmt.Errorf("BENCH_RUNS, BENCH_HALF_RUNS, BENCH_CONCURRENCY and BENCH_CONNECTIONS must be at least 1")
	}
	if err != nil {
		log.Fatal(err)
	}
	if v := os.Getenv("BENCH_ONLY"); v != "" {
		cfg.only = map[string]bool{"bare": true, "floor": true}
		for _, id := range strings.Split(v, ",") {
			cfg.only[strings.TrimSpace(id)] = true
		}
		if cfg.only["validate-half-rps"] { // its rate is half of this one's
			cfg.only["validate-repeated"] = true
		}
	}
	cfg.tokendFlags = strings.Fields(os.Getenv("BENCH_TOKEND_FLAGS"))
	if cfg.outDir = os.Getenv("BENCH_OUT"); cfg.outDir != "" {
		cfg.keepOut = true
		if err := os.MkdirAll(cfg.outDir, 0o700); err != nil {
			log.Fatal(err)
		}
	} else if cfg.outDir, err = os.MkdirTemp("", "tokend-bench-"); err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = run(ctx, cfg)
	if !cfg.keepOut {
		_ = os.RemoveAll(cfg.outDir)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func envInt(name string, def int, errp *error) int {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		*errp = fmt.Errorf("%s: want a non-negative integer, got %q", name, v)
	}
	return n
}

func envDuration(name string, def time.Duration, errp *error) time.Duration {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		*errp = fmt.Errorf("%s: want a positive duration, got %q", name, v)
	}
	return d
}
