package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/stats"
)

// ServiceName is the service.name resource attribute of tokend's spans.
const ServiceName = "tokend"

// Config says where spans go.
type Config struct {
	// Endpoint is the OTLP gRPC collector: host:port (TLS unless
	// Insecure), or a URL, http://host:port (plain text) or
	// https://host:port.
	Endpoint string
	// Insecure sends spans in plain text to a host:port Endpoint (a
	// collector on loopback or a sidecar).
	Insecure bool
	// SampleRatio is the share of new traces sampled, 0 to 1; a call
	// that arrives within a sampled trace is always sampled
	// (parent-based).
	SampleRatio float64
	// Version is the service.version resource attribute.
	Version string
}

// ErrNoEndpoint is returned by NewProvider without an endpoint.
var ErrNoEndpoint = errors.New("tracing: no OTLP endpoint")

// NewProvider returns a TracerProvider that batches spans to the OTLP
// collector of cfg. It does not connect yet: a collector that is down
// costs dropped spans, never a failed start. Shut it down after the
// server stopped, to flush the last spans.
func NewProvider(ctx context.Context, cfg Config) (*sdktrace.TracerProvider, error) {
	if cfg.Endpoint == "" {
		return nil, ErrNoEndpoint
	}
	var opts []otlptracegrpc.Option
	if strings.Contains(cfg.Endpoint, "://") {
		opts = append(opts, otlptracegrpc.WithEndpointURL(cfg.Endpoint))
	} else {
		opts = append(opts, otlptracegrpc.WithEndpoint(cfg.Endpoint))
		if cfg.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", ServiceName)}
	if cfg.Version != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.Version))
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(Sampler(cfg.SampleRatio)),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
	), nil
}

// Sampler is the parent-based sampler of ratio.
func Sampler(ratio float64) sdktrace.Sampler {
	return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
}

// ServerHandler returns the otelgrpc server stats handler over tp: W3C
// trace context from the caller, no span for health checks, no message
// events, no metrics (Prometheus has them).
func ServerHandler(tp trace.TracerProvider) stats.Handler {
	return otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(tp),
		otelgrpc.WithPropagators(propagation.TraceContext{}),
		otelgrpc.WithMeterProvider(noop.NewMeterProvider()),
		otelgrpc.WithFilter(filters.Not(filters.HealthCheck())),
	)
}

// LogHandler returns h adding the trace and span ids ("trace_id",
// "span_id") of the record's context to every record logged within a
// span.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(traceHandler); ok {
		return h
	}
	return traceHandler{h}
}

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
