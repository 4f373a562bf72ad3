package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tokend/tokend/server/healthcheck"
	"github.com/tokend/tokend/server/interceptor"
	"github.com/tokend/tokend/server/metrics"
	"github.com/tokend/tokend/server/refresh"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/tracing"
)

// operations is the server's observability: the Prometheus registry and
// domain metrics, the store health checker and tracing.
type operations struct {
	reg     *prometheus.Registry
	metrics *metrics.Metrics
	checker *healthcheck.Checker

	// tracer is the TracerProvider of the otelgrpc stats handler; nil
	// when tracing is off. ownTracer is the one New made (shut down with
	// the server); a provider given with WithTracerProvider is the
	// caller's.
	tracer    trace.TracerProvider
	ownTracer *sdktrace.TracerProvider

	wrapStore func(storage.Store) storage.Store // WithStoreWrapper
	version   string                            // WithVersion
}

// WithStoreWrapper wraps the store the server opens, for tests: an
// error-injecting wrapper (storage/faulty) makes the store go away.
func WithStoreWrapper(wrap func(storage.Store) storage.Store) Option {
	return func(s *Server) { s.ops.wrapStore = wrap }
}

// WithTracerProvider turns tracing on with tp instead of an OTLP exporter
// (tests record spans in memory with it). The caller shuts tp down.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(s *Server) { s.ops.tracer = tp }
}

// WithVersion sets the version reported in tokend_build_info and as the
// service.version of spans (default "dev").
func WithVersion(v string) Option {
	return func(s *Server) { s.ops.version = v }
}

// setupOperations makes the metrics registry and, when configured, the
// tracer, and wraps the logger so that every line of a call carries its
// request id (and trace id when tracing is on). It runs first in New.
func (s *Server) setupOperations(ctx context.Context, log *slog.Logger) error {
	s.ops.reg = prometheus.NewRegistry()
	s.ops.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tokend_build_info", Help: "Always 1; the labels tell the version of the running binary.",
	}, []string{"version"})
	if s.ops.version == "" {
		s.ops.version = "dev"
	}
	buildInfo.WithLabelValues(s.ops.version).Set(1)
	s.ops.reg.MustRegister(buildInfo)
	m, err := metrics.New(s.ops.reg)
	if err != nil {
		return err
	}
	s.ops.metrics = m

	if s.ops.tracer == nil && s.cfg.OTLPEndpoint != "" {
		tp, err := tracing.NewProvider(ctx, tracing.Config{
			Endpoint: s.cfg.OTLPEndpoint, Insecure: s.cfg.OTLPInsecure,
			SampleRatio: s.cfg.TraceSampleRatio, Version: s.ops.version,
		})
		if err != nil {
			return fmt.Errorf("config: otlp-endpoint: %w", err)
		}
		s.ops.tracer, s.ops.ownTracer = tp, tp
	}
	h := log.Handler()
	if s.ops.tracer != nil {
		h = tracing.LogHandler(h)
	}
	s.log = slog.New(interceptor.LogHandler(h)) // outermost: the chain sees it is there
	return nil
}

// instrumentStore wraps the opened store: the test wrapper first, then
// the latency metrics.
func (s *Server) instrumentStore(st storage.Store) storage.Store {
	if s.ops.wrapStore != nil {
		st = s.ops.wrapStore(st)
	}
	return s.ops.metrics.Store(st)
}

// observeDomain registers the gauges read from the in-memory state.
func (s *Server) observeDomain(deny *refresh.Denylist) error {
	return errors.Join(
		s.ops.metrics.Gauge("tokend_denylist_entries",
			"Entries of the in-memory access token denylist (revoked token ids and subjects not yet expired).",
			func() float64 { return float64(deny.Len()) }),
		s.ops.metrics.Gauge("tokend_apps", "Apps held in the in-memory key registry.",
			func() float64 { return float64(len(s.registry.AppIDs())) }),
	)
}

// statsHandlers returns the otelgrpc stats handler when tracing is on,
// and nothing otherwise: no tracing, no cost.
func (s *Server) statsHandlers() []grpc.ServerOption {
	if s.ops.tracer == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(tracing.ServerHandler(s.ops.tracer))}
}

// startHealth makes the store checker and marks every registered service
// SERVING. Call it once every service is registered.
func (s *Server) startHealth() {
	// A ping gets at least a second: a slow answer is not an absent store.
	timeout := max(s.cfg.HealthCheckInterval, time.Second)
	s.ops.checker = healthcheck.New(s.store, timeout, s.log, s.setServing)
	s.setServing(true)
}

// setServing sets the gRPC health status of the server ("") and of every
// registered service but health and reflection, and the tokend_store_up
// gauge. After Shutdown began, the health server ignores it.
func (s *Server) setServing(up bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if up {
		st = healthpb.HealthCheckResponse_SERVING
	}
	for name := range s.grpc.GetServiceInfo() {
		if !interceptor.PublicService("/" + name + "/") {
			s.health.SetServingStatus(name, st)
		}
	}
	s.ops.metrics.StoreUp(up)
	s.health.SetServingStatus("", st) // last: when "" changed, everything did
}

// runHealth checks the store every HealthCheckInterval until ctx is done.
func (s *Server) runHealth(ctx context.Context) {
	s.ops.checker.Run(ctx, s.cfg.HealthCheckInterval)
}

// ready reports whether the server should get traffic (/readyz): the
// store answers a ping now and the keys are loaded.
func (s *Server) ready(ctx context.Context) (bool, string) {
	switch {
	case s.registry == nil:
		return false, "keys not loaded"
	case !s.ops.checker.Check(ctx):
		return false, "store unreachable"
	}
	return true, ""
}

// stopTracing flushes the spans of the tracer New made.
func (s *Server) stopTracing() error {
	if s.ops.ownTracer == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.ops.ownTracer.Shutdown(ctx); err != nil {
		return fmt.Errorf("server: flush spans: %w", err)
	}
	return nil
}
