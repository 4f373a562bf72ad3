package tracing_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tokend/tokend/server/tracing"
)

func TestNewProvider(t *testing.T) {
	t.Parallel()
	if _, err := tracing.NewProvider(t.Context(), tracing.Config{}); !errors.Is(err, tracing.ErrNoEndpoint) {
		t.Errorf("no endpoint: %v, want ErrNoEndpoint", err)
	}
	for _, cfg := range []tracing.Config{
		{Endpoint: "127.0.0.1:1", Insecure: true, SampleRatio: 1},
		{Endpoint: "http://127.0.0.1:1", SampleRatio: 0.5, Version: "v1"},
	} {
		// No collector listens: the exporter connects lazily, so making
		// the provider succeeds and a start never fails on tracing.
		tp, err := tracing.NewProvider(t.Context(), cfg)
		if err != nil {
			t.Fatalf("%+v: %v", cfg, err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_ = tp.Shutdown(ctx)
	}
}

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(tracing.LogHandler(tracing.LogHandler(slog.NewJSONHandler(&buf, nil))))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	ctx, span := tp.Tracer("test").Start(t.Context(), "op")
	log.InfoContext(ctx, "inside")
	span.End()
	log.InfoContext(t.Context(), "outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := `"trace_id":"` + span.SpanContext().TraceID().String() + `","span_id":"` + span.SpanContext().SpanID().String() + `"`
	if len(lines) != 2 || !strings.Contains(lines[0], want) || strings.Count(lines[0], "trace_id") != 1 {
		t.Errorf("line within a span: %s; want %s once", lines[0], want)
	}
	if strings.Contains(lines[len(lines)-1], "trace_id") {
		t.Errorf("line outside a span has a trace id: %s", lines[len(lines)-1])
	}
}
