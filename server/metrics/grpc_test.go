package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/metrics"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fakeStream is a server stream that receives recv messages, then io.EOF.
type fakeStream struct {
	recv int
}

func (s *fakeStream) SetHeader(metadata.MD) error  { return nil }
func (s *fakeStream) SendHeader(metadata.MD) error { return nil }
func (s *fakeStream) SetTrailer(metadata.MD)       {}
func (s *fakeStream) Context() context.Context     { return context.Background() }
func (s *fakeStream) SendMsg(any) error            { return nil }
func (s *fakeStream) RecvMsg(any) error {
	if s.recv == 0 {
		return io.EOF
	}
	s.recv--
	return nil
}

// drive makes the same calls through a unary and a stream interceptor.
func drive(t *testing.T, unary grpc.UnaryServerInterceptor, stream grpc.StreamServerInterceptor) {
	t.Helper()
	for _, tc := range []struct {
		method string
		err    error
	}{
		{"/tokend.v1.TokenService/ValidateToken", nil},
		{"/tokend.v1.TokenService/ValidateToken", nil},
		{"/tokend.v1.TokenService/ValidateToken", status.Error(codes.InvalidArgument, "bad")},
		{"/tokend.v1.TokenService/IssueToken", status.Error(codes.PermissionDenied, "no")},
		{"/tokend.v1.TokenService/IssueToken", context.Canceled},
		{"/tokend.v1.TokenService/IssueToken", context.DeadlineExceeded},
		{"/tokend.v1.TokenService/IssueToken", errors.New("plain")},
		{"/tokend.v1.TokenService/IssueToken", status.Error(codes.Code(42), "not a known code")},
		{"/grpc.health.v1.Health/Check", nil},
	} {
		_, _ = unary(context.Background(), "req", &grpc.UnaryServerInfo{FullMethod: tc.method},
			func(context.Context, any) (any, error) { return "resp", tc.err })
	}
	info := &grpc.StreamServerInfo{FullMethod: "/tokend.v1.TokenService/WatchKeys", IsServerStream: true}
	for _, fail := range []error{nil, status.Error(codes.Unavailable, "gone")} {
		_ = stream(nil, &fakeStream{recv: 1}, info, func(_ any, ss grpc.ServerStream) error {
			for ss.RecvMsg(nil) == nil {
			}
			for range 3 {
				_ = ss.SendMsg("event")
			}
			return fail
		})
	}
}

// families renders what a registry exposes, except histogram sums and
// bucket counts (the durations differ from run to run): one line per
// series, sorted.
func families(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			line := fmt.Sprintf("%s %s %q {%s}", mf.GetName(), mf.GetType(), mf.GetHelp(), strings.Join(labels, ","))
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				line += fmt.Sprintf(" %v", m.GetCounter().GetValue())
			case dto.MetricType_HISTOGRAM:
				var bounds []float64
				for _, b := range m.GetHistogram().GetBucket() {
					bounds = append(bounds, b.GetUpperBound())
				}
				line += fmt.Sprintf(" count=%d buckets=%v", m.GetHistogram().GetSampleCount(), bounds)
			}
			out = append(out, line)
		}
	}
	slices.Sort(out)
	return out
}

// TestGRPCServerMatchesProvider: GRPCServer exposes exactly what the
// middleware's Prometheus provider (with its handling-time histogram)
// exposes for the same calls: families, help, labels, every series
// pre-created by InitializeMetrics, counts by code (context errors, plain
// errors and codes outside the known ones included), stream messages.
func TestGRPCServerMatchesProvider(t *testing.T) {
	t.Parallel()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	tokendv1.RegisterTokenServiceServer(srv, tokendv1.UnimplementedTokenServiceServer{})

	provider := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	want := prometheus.NewRegistry()
	want.MustRegister(provider)
	provider.InitializeMetrics(srv)
	drive(t, provider.UnaryServerInterceptor(), provider.StreamServerInterceptor())

	ours := metrics.NewGRPCServer()
	got := prometheus.NewRegistry()
	got.MustRegister(ours)
	ours.InitializeMetrics(srv)
	drive(t, ours.UnaryServerInterceptor(), ours.StreamServerInterceptor())

	w, g := families(t, want), families(t, got)
	if len(w) < 50 {
		t.Fatalf("the provider exposed only %d series: the comparison would prove little", len(w))
	}
	for _, l := range w {
		if !slices.Contains(g, l) {
			t.Errorf("missing or different: %s", l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			t.Errorf("not exposed by the provider: %s", l)
		}
	}
}

// TestGRPCServerReportsWithoutAllocating: once a method's series exist, a
// unary call through the interceptor allocates nothing for metrics beyond
// what the middleware's interceptor itself does.
func TestGRPCServerReportsWithoutAllocating(t *testing.T) {
	m := metrics.NewGRPCServer()
	unary := m.UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/tokend.v1.TokenService/ValidateToken"}
	h := func(context.Context, any) (any, error) { return nil, nil }
	ctx := context.Background()
	_, _ = unary(ctx, nil, info, h)
	if n := testing.AllocsPerRun(200, func() { _, _ = unary(ctx, nil, info, h) }); n > 0 {
		t.Errorf("%v allocations per call", n)
	}
}

// BenchmarkGRPCMetrics: the metrics link of a unary call, with the
// middleware's Prometheus provider and with GRPCServer.
func BenchmarkGRPCMetrics(b *testing.B) {
	info := &grpc.UnaryServerInfo{FullMethod: "/tokend.v1.TokenService/ValidateToken"}
	h := func(context.Context, any) (any, error) { return nil, nil }
	provider := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	for name, unary := range map[string]grpc.UnaryServerInterceptor{
		"impl=provider":   provider.UnaryServerInterceptor(),
		"impl=GRPCServer": metrics.NewGRPCServer().UnaryServerInterceptor(),
	} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_, _ = unary(ctx, nil, info, h)
			}
		})
	}
}
