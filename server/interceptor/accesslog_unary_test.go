package interceptor

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// TestAccessLineMatchesMiddleware: the unary access line is the line
// go-grpc-middleware's logging interceptor writes for the same call:
// same message, level, field names and values (but for the clock).
func TestAccessLineMatchesMiddleware(t *testing.T) {
	t.Parallel()
	handlers := map[string]grpc.UnaryHandler{
		"success": func(ctx context.Context, _ any) (any, error) {
			logging.AddFields(ctx, logging.Fields{"caller", "billing"})
			return struct{}{}, nil
		},
		"failure": func(ctx context.Context, _ any) (any, error) {
			logging.AddFields(ctx, logging.Fields{"caller", "billing"})
			return nil, status.Error(codes.PermissionDenied, "no")
		},
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run := func(mk func(*slog.Logger) grpc.UnaryServerInterceptor) map[string]any {
				var buf bytes.Buffer
				log := slog.New(slog.NewJSONHandler(&buf, nil))
				ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242}})
				ctx, cancel := context.WithDeadline(ctx, time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC))
				defer cancel()
				_, _ = mk(log)(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/tokend.v1.TokenService/IssueToken"}, h)
				var m map[string]any
				if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
					t.Fatalf("line %q: %v", buf.String(), err)
				}
				for _, clock := range []string{"time", "grpc.start_time", "grpc.time_ms"} {
					if _, ok := m[clock]; !ok {
						t.Errorf("line lacks %s: %v", clock, m)
					}
					delete(m, clock)
				}
				return m
			}
			want := run(func(log *slog.Logger) grpc.UnaryServerInterceptor {
				return logging.UnaryServerInterceptor(logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
					log.Log(ctx, slog.Level(lvl), msg, fields...)
				}), logging.WithLogOnEvents(logging.FinishCall))
			})
			got := run(func(log *slog.Logger) grpc.UnaryServerInterceptor {
				return accessLogUnary(log, logging.DefaultServerCodeToLevel, successAtDebug)
			})
			if len(got) != len(want) {
				t.Errorf("fields differ:\n got  %v\n want %v", got, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %v, the middleware writes %v", k, got[k], v)
				}
			}
		})
	}
}
