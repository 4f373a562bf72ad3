// Package tracing sets up OpenTelemetry tracing of the gRPC server: a
// TracerProvider exporting spans over OTLP gRPC with a parent-based ratio
// sampler, the otelgrpc stats handler (health checks are not traced, and
// neither request nor response payloads nor metadata are recorded), and a
// log handler that puts the trace and span ids on log lines.
//
// Tracing is off unless an OTLP endpoint is configured; the server then
// installs no stats handler at all, so it costs nothing.
package tracing
