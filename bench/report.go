package main

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Markers of the generated section of the Markdown file.
const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

// Targets that are not ratios (issue 8).
const (
	targetFloorVsBare = 0.90
	targetHalfRPSP99  = 2 * time.Millisecond
	targetPeakRSS     = 100 << 20
	targetMemoryRSS   = 150 << 20
)

// bar is one bar of the plot: a ratio and its target.
type bar struct {
	label         string
	ratio, target float64
}

func (b *bench) report() error {
	floor := medianRPS(b.byID("floor").runs)
	bare := medianRPS(b.byID("bare").runs)
	var md strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&md, format, args...) }
	p("%s\n<!-- Written by `make bench` (bench/); edit outside the markers only. -->\n\n", beginMarker)
	p("Measured %s on %s, %d cores (GOMAXPROCS %d), %s, %s. Load average (1, 5, 15 min) before: %s; after: %s.\n\n",
		b.started.UTC().Format("2006-01-02 15:04 MST"), cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH,
		b.loadAvg, b.loadAfter)
	p("ghz v0.121.0 on the same machine, `-c %d --connections %d`, its GC off (`"+strings.Join(ghzEnv, " ")+"`, see The latency tail), %s per run, %d runs per scenario interleaved round by round, median reported, %s warm-up per scenario. Ratios are median RPS over the floor's median RPS. Server CPU / call is the server process's user + system time over a run divided by its successful calls (median of the runs).\n\n",
		b.cfg.concurrency, b.cfg.connections, b.cfg.duration, b.cfg.runs, b.cfg.warmup)
	p("![RPS ratio to the floor per scenario, with targets](benchmarks.svg)\n\n")
	p("| scenario | RPS (median) | RPS of each run | p50 | p99 | server CPU / call | errors | × floor | target | |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|:-:|\n")
	var bars []bar
	allMet := true
	for _, s := range b.scenarios {
		m := median(s.runs, func(x, y result) bool { return x.RPS < y.RPS })
		var errs uint64
		runs := make([]string, len(s.runs))
		for i, r := range s.runs {
			errs += r.Errors
			runs[i] = fmt.Sprintf("%.0f", r.RPS)
		}
		ratio, target, verdict := "", "", ""
		switch s.id {
		case "bare":
			ratio = "—"
		case "floor":
			fb := floor / bare
			ratio = fmt.Sprintf("1.00 (%.2f × bare)", fb)
			target, verdict = fmt.Sprintf("≥ %.2f × bare", targetFloorVsBare), met(fb >= targetFloorVsBare, &allMet)
			bars = append(bars, bar{"floor ÷ bare", fb, targetFloorVsBare})
		default:
			r := m.RPS / floor
			ratio = fmt.Sprintf("%.2f", r)
			if s.target > 0 {
				target, verdict = fmt.Sprintf("≥ %.2f", s.target), met(r >= s.target, &allMet)
			}
			bars = append(bars, bar{s.id, r, s.target})
		}
		cpu := median(s.runs, func(x, y result) bool { return x.CPUPerCall < y.CPUPerCall }).CPUPerCall
		p("| %s | %.0f | %s | %s | %s | %.1f µs | %d | %s | %s | %s |\n", s.title, m.RPS, strings.Join(runs, " / "), ms(m.P50), ms(m.P99), float64(cpu)/1e3, errs, ratio, target, verdict)
	}
	p("\n")

	h := b.halfRPS
	hm := median(h.runs, func(x, y result) bool { return x.P99 < y.P99 })
	var herrs uint64
	p99s := make([]string, len(h.runs))
	for i, r := range h.runs {
		herrs += r.Errors
		p99s[i] = ms(r.P99)
	}
	p("| other target | measured | target | |\n|---|--:|--:|:-:|\n")
	p("| p99 of ValidateToken (repeated token) at half its max RPS (`--rps %d`; ghz's template processing off, see The latency tail) | %s (runs: %s; p50 %s; %d errors) | ≤ %s | %s |\n",
		h.example.rps, ms(hm.P99), strings.Join(p99s, " / "), ms(hm.P50), herrs, ms(targetHalfRPSP99), met(hm.P99 <= targetHalfRPSP99 && herrs == 0, &allMet))
	if hb := b.halfBare; hb != nil && len(hb.runs) > 0 {
		bm := median(hb.runs, func(x, y result) bool { return x.P99 < y.P99 })
		bp99s := make([]string, len(hb.runs))
		for i, r := range hb.runs {
			bp99s[i] = ms(r.P99)
		}
		p("| — the bare server's health Check at the same rate, same ghz settings, its runs interleaved with tokend's (what the machine and ghz alone add) | %s (runs: %s; p50 %s) | | |\n", ms(bm.P99), strings.Join(bp99s, " / "), ms(bm.P50))
	}
	p("| peak RSS of tokend over the whole benchmark (VmHWM) | %s (RSS at the end %s) | ≤ %s | %s |\n",
		mib(b.peakRSS), mib(b.endRSS), mib(targetPeakRSS), met(b.peakRSS <= targetPeakRSS, &allMet))
	if m := b.mem; m != nil {
		p("| resident memory with %d live refresh families and %d revoked token ids (VmHWM of a second tokend, see below) | %s (RSS at start %s, after load %s) | ≤ %s | %s |\n",
			m.families, m.revoked, mib(m.peak), mib(m.startRSS), mib(m.loadRSS), mib(targetMemoryRSS), met(m.peak <= targetMemoryRSS, &allMet))
	}
	p("\n")
	if allMet {
		p("Every target is met.\n\n")
	} else {
		p("**Some targets are not met (✗).**\n\n")
	}
	if m := b.mem; m != nil {
		p("Memory scenario: a second tokend on a fresh data dir; before it starts, %d refresh families (one live refresh token each) and %d revoked access-token ids are written through the real store package (`sqlite.Store.CreateRefreshToken` from 64 goroutines, group-committed, and `AddRevocations` 5000 per transaction; %s). tokend loads the revocations into its in-memory denylist at start; the families stay in SQLite. Then %s of RefreshToken, each call presenting the refresh token of another family (%.0f RPS) and %s of ValidateToken (%.0f RPS), %d errors.\n\n",
			m.families, m.revoked, m.fill.Round(time.Millisecond), min(b.cfg.duration, 5*time.Second), m.refreshRPS, min(b.cfg.duration, 5*time.Second), m.validateRPS, m.errors)
	}

	p("Commands (`$ADDR` is tokend's gRPC address, or the bare server's for the first; the keys are those of a `validator` and an `issuer` caller created by the run; the `.bin` files are count-delimited binary requests written by the run, sent round-robin):\n\n```sh\n")
	for _, s := range append(append([]*scenario(nil), b.scenarios...), b.halfRPS, b.halfBare) {
		p("# %s\n%s\n", s.id, b.command(s.example))
	}
	p("```\n\ntokend runs as `tokend %s` (default configuration otherwise).\n\n", strings.Join(tokendArgs("$DATA_DIR"), " "))

	for _, pr := range b.profiles {
		p("CPU profile of tokend during `%s` (%d s, `go tool pprof -top -nodecount=30`):\n\n```\n%s\n```\n\n", pr.scenario, pr.seconds, pr.top)
	}
	p("%s\n", endMarker)

	if err := writeSection(b.cfg.doc, md.String()); err != nil {
		return err
	}
	if err := os.WriteFile(b.cfg.svg, plot(bars, b.started), 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s and %s", b.cfg.doc, b.cfg.svg)
	fmt.Print(md.String())
	return nil
}

func met(ok bool, all *bool) string {
	if ok {
		return "✓"
	}
	*all = false
	return "✗"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// writeSection replaces the generated section of the Markdown file at path
// (creating the file, or appending the section, when missing).
func writeSection(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	begin, end := bytes.Index(old, []byte(beginMarker)), bytes.Index(old, []byte(endMarker))
	var out []byte
	switch {
	case begin >= 0 && end > begin:
		out = append(out, old[:begin]...)
		out = append(out, section...)
		rest := old[end+len(endMarker):]
		out = append(out, bytes.TrimPrefix(rest, []byte("\n"))...)
	case len(old) == 0:
		out = []byte("# Benchmarks\n\n" + section)
	default:
		out = append(append(old, '\n'), section...)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}
