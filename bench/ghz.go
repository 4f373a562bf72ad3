package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ghzEnv is the load generator's environment on top of the harness's:
// its garbage collector off until its heap nears 4 GiB. ghz allocates
// heavily per call (dynamic messages, templates, results) and shares the
// two cores with the server under test: with its default GC, its own
// pauses and mark assists make most of the latency tail it reports (the
// bare no-op server measured p99 3.6-4.8 ms at 5 850 calls/s with it,
// 1.7 ms without), which is then not the server's.
var ghzEnv = []string{"GOGC=off", "GOMEMLIMIT=4GiB"}

// load is one ghz invocation.
type load struct {
	call string // package.Service/Method
	addr string
	// Exactly one of data (inline JSON) and binFile (count-delimited
	// binary messages, used round-robin) is set.
	data    string
	binFile string
	// apiKey, when set, is sent as "authorization: Bearer <key>"; keyName
	// names it in the printed command.
	apiKey, keyName string
	rps             int // 0: as fast as possible
	// plain turns ghz's template processing off (the requests hold no
	// template): the latency check's loads, where ghz's own per-call
	// templating would be most of the tail it measures (docs/benchmarks.md,
	// The latency tail). The throughput rounds keep ghz's defaults, the
	// harness issue 8's targets were calibrated with.
	plain bool
}

// result is what one run measured.
type result struct {
	RPS      float64 // successful calls per second
	Count    uint64  // calls, errors included
	Errors   uint64  // calls that did not end with OK
	Canceled uint64  // calls in flight that ghz canceled at the end
	// CPUPerCall is the server process's CPU time (user + system) over
	// the run divided by the successful calls: what a call costs the
	// server, much less sensitive than RPS to other load on the machine.
	CPUPerCall time.Duration
	P50, P99   time.Duration // of successful calls
	Average    time.Duration
	ErrDist    map[string]int
}

// ghzReport is the part of ghz's JSON report read here.
type ghzReport struct {
	Count          uint64         `json:"count"`
	Total          time.Duration  `json:"total"`
	Average        time.Duration  `json:"average"`
	Rps            float64        `json:"rps"`
	ErrorDist      map[string]int `json:"errorDistribution"`
	StatusCodeDist map[string]int `json:"statusCodeDistribution"`
	Latencies      []struct {
		Percentage int           `json:"percentage"`
		Latency    time.Duration `json:"latency"`
	} `json:"latencyDistribution"`
}

// args returns ghz's arguments for l run for d; with redact, the API key
// is replaced by a shell variable and files by their base names.
func (b *bench) args(l load, d time.Duration, out string, redact bool) []string {
	args := []string{"--insecure", "--call", l.call,
		"-c", strconv.Itoa(b.cfg.concurrency), "--connections", strconv.Itoa(b.cfg.connections),
		"-z", d.String()}
	if l.rps > 0 {
		args = append(args, "--rps", strconv.Itoa(l.rps))
	}
	if l.plain {
		args = append(args, "--disable-template-functions", "--disable-template-data")
	}
	if l.apiKey != "" {
		key := l.apiKey
		if redact {
			key = "$" + l.keyName
		}
		args = append(args, "-m", fmt.Sprintf(`{"authorization":"Bearer %s"}`, key))
	}
	switch {
	case l.binFile != "":
		f := l.binFile
		if redact {
			f = filepath.Base(f)
		}
		args = append(args, "--binary", "-B", f)
	default:
		args = append(args, "-d", l.data)
	}
	if out != "" {
		args = append(args, "-O", "json", "-o", out)
	}
	return append(args, l.addr)
}

// command is the ghz command line of l as printed in the report.
func (b *bench) command(l load) string {
	args := b.args(l, b.cfg.duration, "", true)
	args[len(args)-1] = "$ADDR"
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, `{}" $`) && !strings.HasPrefix(a, "$") {
			a = "'" + a + "'"
		}
		q[i] = a
	}
	return strings.Join(ghzEnv, " ") + " ghz " + strings.Join(q, " ")
}

// ghz runs l for d and reads its report.
func (b *bench) ghz(ctx context.Context, name string, l load, d time.Duration) (result, error) {
	b.seq++
	out := filepath.Join(b.cfg.outDir, fmt.Sprintf("ghz-%03d-%s.json", b.seq, name))
	cmd := exec.CommandContext(ctx, b.cfg.ghzBin, b.args(l, d, out, false)...)
	cmd.Env = append(os.Environ(), ghzEnv...)
	pid := b.pidOf(l.addr)
	cpu0, _ := procCPU(pid)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return result{}, fmt.Errorf("ghz %s: %v\n%s", name, err, msg)
	}
	cpu1, cpuErr := procCPU(pid)
	raw, err := os.ReadFile(out)
	if err != nil {
		return result{}, err
	}
	if !b.cfg.keepOut {
		defer os.Remove(out)
	}
	var rep ghzReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return result{}, fmt.Errorf("ghz %s: report: %w", name, err)
	}
	res := result{Count: rep.Count, Average: rep.Average, ErrDist: rep.ErrorDist}
	for code, n := range rep.StatusCodeDist {
		if code != "OK" {
			res.Errors += uint64(n)
		}
	}
	// ghz -z cancels the calls in flight when the time is up (at most one
	// per concurrent worker): those are not errors of the server.
	for msg, n := range rep.ErrorDist {
		if strings.Contains(msg, "the client connection is closing") || strings.Contains(msg, "transport is closing") {
			res.Errors -= min(res.Errors, uint64(n))
			res.Canceled += uint64(n)
			delete(rep.ErrorDist, msg)
		}
	}
	if rep.Total > 0 {
		res.RPS = float64(rep.Count-res.Errors-res.Canceled) / rep.Total.Seconds()
	}
	if ok := rep.Count - res.Errors - res.Canceled; ok > 0 && cpuErr == nil {
		res.CPUPerCall = (cpu1 - cpu0) / time.Duration(ok)
	}
	for _, l := range rep.Latencies {
		switch l.Percentage {
		case 50:
			res.P50 = l.Latency
		case 99:
			res.P99 = l.Latency
		}
	}
	return res, nil
}

// median of xs (the lower middle for an even count, so that it is a
// measured value).
func median[T any](xs []T, less func(a, b T) bool) T {
	s := append([]T(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return less(s[i], s[j]) })
	return s[(len(s)-1)/2]
}
