package metrics

import (
	"context"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// GRPCServer records the standard gRPC server metrics through
// go-grpc-middleware's metrics interceptors (interceptors.Unary- and
// StreamServerInterceptor, fed by ServerReporter): the same families,
// help texts, labels and buckets as the middleware's Prometheus provider
// with its handling-time histogram (grpc_server_started_total,
// grpc_server_handled_total, grpc_server_msg_received_total,
// grpc_server_msg_sent_total, grpc_server_handling_seconds), so
// dashboards and alerts written for the provider work unchanged
// (TestGRPCServerMatchesProvider).
//
// What differs is the cost of a call: the provider allocates a reporter
// and looks each series up by its label values four times a call
// (formatting and hashing four strings each time): ~2.5 µs, ~400 bytes
// and 8% of the server's CPU on a cached ValidateToken under load. Here a
// method's series are resolved once, the first time it is called or by
// InitializeMetrics, and the reporter of a call is those series: no
// allocation, no hashing. (A method the server does not have, which
// grpc-go refuses before any interceptor, would get all its series at its
// first call, where the provider creates them one by one.)
type GRPCServer struct {
	started  *prometheus.CounterVec
	handled  *prometheus.CounterVec
	received *prometheus.CounterVec
	sent     *prometheus.CounterVec
	handling *prometheus.HistogramVec

	methods resolved[methodKey, *methodSeries]
}

type methodKey struct {
	typ             interceptors.GRPCType
	service, method string
}

// methodSeries are the series of one method; they are its calls' Reporter.
type methodSeries struct {
	key      methodKey
	m        *GRPCServer
	started  prometheus.Counter
	received prometheus.Counter
	sent     prometheus.Counter
	handling prometheus.Observer
	handled  [codes.Unauthenticated + 1]prometheus.Counter // by code
}

// NewGRPCServer returns the gRPC server metrics; register them.
func NewGRPCServer() *GRPCServer {
	labels := []string{"grpc_type", "grpc_service", "grpc_method"}
	m := &GRPCServer{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_started_total",
			Help: "Total number of RPCs started on the server.",
		}, labels),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_handled_total",
			Help: "Total number of RPCs completed on the server, regardless of success or failure.",
		}, append(labels[:3:3], "grpc_code")),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_msg_received_total",
			Help: "Total number of RPC stream messages received on the server.",
		}, labels),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_msg_sent_total",
			Help: "Total number of gRPC stream messages sent by the server.",
		}, labels),
		handling: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_server_handling_seconds",
			Help:    "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
			Buckets: prometheus.DefBuckets,
		}, labels),
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *GRPCServer) Describe(ch chan<- *prometheus.Desc) {
	m.started.Describe(ch)
	m.handled.Describe(ch)
	m.received.Describe(ch)
	m.sent.Describe(ch)
	m.handling.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *GRPCServer) Collect(ch chan<- prometheus.Metric) {
	m.started.Collect(ch)
	m.handled.Collect(ch)
	m.received.Collect(ch)
	m.sent.Collect(ch)
	m.handling.Collect(ch)
}

// InitializeMetrics creates the series of every method registered on
// server, at zero, so that they exist before the first call (every code
// of grpc_server_handled_total included).
func (m *GRPCServer) InitializeMetrics(server interface {
	GetServiceInfo() map[string]grpc.ServiceInfo
}) {
	for service, info := range server.GetServiceInfo() {
		for _, mi := range info.Methods {
			m.series(methodKey{typ: methodType(mi), service: service, method: mi.Name})
		}
	}
}

// UnaryServerInterceptor records unary calls.
func (m *GRPCServer) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return interceptors.UnaryServerInterceptor(m)
}

// StreamServerInterceptor records streaming calls and their messages.
func (m *GRPCServer) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return interceptors.StreamServerInterceptor(m)
}

// ServerReporter implements interceptors.ServerReportable.
func (m *GRPCServer) ServerReporter(ctx context.Context, meta interceptors.CallMeta) (interceptors.Reporter, context.Context) {
	s := m.series(methodKey{typ: meta.Typ, service: meta.Service, method: meta.Method})
	s.started.Inc()
	return s, ctx
}

// series returns the series of k, creating them the first time.
func (m *GRPCServer) series(k methodKey) *methodSeries {
	return m.methods.get(k, func() *methodSeries {
		lv := []string{string(k.typ), k.service, k.method}
		s := &methodSeries{
			key:      k,
			m:        m,
			started:  m.started.WithLabelValues(lv...),
			received: m.received.WithLabelValues(lv...),
			sent:     m.sent.WithLabelValues(lv...),
			handling: m.handling.WithLabelValues(lv...),
		}
		for c := range s.handled {
			s.handled[c] = m.handled.WithLabelValues(string(k.typ), k.service, k.method, codes.Code(c).String())
		}
		return s
	})
}

// PostCall implements interceptors.Reporter.
func (s *methodSeries) PostCall(err error, d time.Duration) {
	st, ok := status.FromError(err)
	if !ok { // as the server itself does: context errors become statuses
		st = status.FromContextError(err)
	}
	if c := st.Code(); int(c) < len(s.handled) {
		s.handled[c].Inc()
	} else {
		s.m.handled.WithLabelValues(string(s.key.typ), s.key.service, s.key.method, c.String()).Inc()
	}
	s.handling.Observe(d.Seconds())
}

// PostMsgSend implements interceptors.Reporter.
func (s *methodSeries) PostMsgSend(_ any, err error, _ time.Duration) {
	if err == nil {
		s.sent.Inc()
	}
}

// PostMsgReceive implements interceptors.Reporter.
func (s *methodSeries) PostMsgReceive(_ any, err error, _ time.Duration) {
	if err == nil {
		s.received.Inc()
	}
}

func methodType(mi grpc.MethodInfo) interceptors.GRPCType {
	switch {
	case !mi.IsClientStream && !mi.IsServerStream:
		return interceptors.Unary
	case mi.IsClientStream && !mi.IsServerStream:
		return interceptors.ClientStream
	case !mi.IsClientStream && mi.IsServerStream:
		return interceptors.ServerStream
	}
	return interceptors.BidiStream
}
