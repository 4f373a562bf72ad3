package interceptor

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// logLines runs one unary call through a chain of opts, logging at level,
// and returns the decoded log lines.
func logLines(t *testing.T, opts Options, level slog.Level, method string, h grpc.UnaryHandler) []map[string]any {
	t.Helper()
	var buf bytes.Buffer
	var mu sync.Mutex
	opts.Logger = slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: level}))
	opts.Auth = func(ctx context.Context) (context.Context, error) { return ctx, nil }
	opts.PanicError = func(context.Context) error { return status.Error(codes.Internal, "internal error") }
	unary, _ := Chain(opts)
	tc := &testChain{unary: unary}
	_ = tc.callUnary(method, h)
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestAccessLogModes(t *testing.T) {
	t.Parallel()
	ok := func(context.Context, any) (any, error) { return struct{}{}, nil }
	fail := func(context.Context, any) (any, error) { return nil, status.Error(codes.NotFound, "nope") }
	const health = "/grpc.health.v1.Health/Check"
	tests := []struct {
		name   string
		mode   AccessLog
		level  slog.Level
		method string
		h      grpc.UnaryHandler
		want   int // access lines
	}{
		{"all logs success", AccessLogAll, slog.LevelInfo, method, ok, 1},
		{"all logs failure", AccessLogAll, slog.LevelInfo, method, fail, 1},
		{"all logs probes at debug only", AccessLogAll, slog.LevelInfo, health, ok, 0},
		{"all shows probes with debug", AccessLogAll, slog.LevelDebug, health, ok, 1},
		{"default is all", "", slog.LevelInfo, method, ok, 1},
		{"errors hides success", AccessLogErrors, slog.LevelInfo, method, ok, 0},
		{"errors logs failure", AccessLogErrors, slog.LevelInfo, method, fail, 1},
		{"errors shows success with debug", AccessLogErrors, slog.LevelDebug, method, ok, 1},
		{"off logs nothing", AccessLogOff, slog.LevelDebug, method, fail, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lines := logLines(t, Options{AccessLog: tt.mode}, tt.level, tt.method, tt.h)
			if len(lines) != tt.want {
				t.Fatalf("%d access lines, want %d: %v", len(lines), tt.want, lines)
			}
			for _, l := range lines {
				if l["msg"] != "finished call" || l["request_id"] != "req-1" || l["grpc.code"] == nil || l["grpc.time_ms"] == nil || l["grpc.method"] == nil {
					t.Errorf("access line lacks the method, code, duration or request id: %v", l)
				}
			}
		})
	}
}

func TestParseAccessLog(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]AccessLog{"": AccessLogAll, "all": AccessLogAll, "errors": AccessLogErrors, "off": AccessLogOff} {
		if got, err := ParseAccessLog(in); err != nil || got != want {
			t.Errorf("ParseAccessLog(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseAccessLog("some"); err == nil {
		t.Error("ParseAccessLog(some) succeeded")
	}
}

// TestRequestIDOnEveryLine: a line the handler logs with the call's
// context carries the request id, exactly once, also through a logger
// wrapped twice.
func TestRequestIDOnEveryLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(LogHandler(LogHandler(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil))))
	lines := logLines(t, Options{}, slog.LevelInfo, method, func(ctx context.Context, _ any) (any, error) {
		log.With("component", "x").ErrorContext(ctx, "internal error")
		return nil, status.Error(codes.Internal, "internal error")
	})
	if len(lines) != 1 || lines[0]["request_id"] != "req-1" {
		t.Errorf("access lines %v, want one with the request id", lines)
	}
	got := buf.String()
	if strings.Count(got, `"request_id":"req-1"`) != 1 {
		t.Errorf("handler line %s: want the request id once", got)
	}
}

func TestDefaultDeadline(t *testing.T) {
	t.Parallel()
	unary, _ := Chain(Options{
		Logger: slog.New(slog.DiscardHandler), DefaultDeadline: time.Minute, AccessLog: AccessLogOff,
		Auth: func(ctx context.Context) (context.Context, error) { return ctx, nil },
	})
	tc := &testChain{unary: unary}
	call := func(ctx context.Context) time.Duration {
		t.Helper()
		var left time.Duration
		info := &grpc.UnaryServerInfo{FullMethod: method}
		next := grpc.UnaryHandler(func(ctx context.Context, _ any) (any, error) {
			d, ok := ctx.Deadline()
			if !ok {
				t.Fatal("the handler's context has no deadline")
			}
			left = time.Until(d)
			return nil, nil
		})
		for i := len(tc.unary) - 1; i >= 0; i-- {
			ic, inner := tc.unary[i], next
			next = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, inner) }
		}
		_, _ = next(metadata.NewIncomingContext(ctx, metadata.MD{}), nil)
		return left
	}
	if left := call(context.Background()); left <= 50*time.Second || left > time.Minute {
		t.Errorf("without a caller deadline the handler has %s left, want about the 1m default", left)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if left := call(ctx); left <= time.Minute {
		t.Errorf("the caller's 1h deadline became %s: a default must not shorten it", left)
	}
}
