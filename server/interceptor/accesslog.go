package interceptor

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// AccessLog says which calls get an access line.
type AccessLog string

// Access log modes.
const (
	// AccessLogAll logs one line per call: at info for success and
	// caller errors, warn or error for the rest, as the middleware's
	// defaults. Successful health and reflection calls (probes) log at
	// debug.
	AccessLogAll AccessLog = "all"
	// AccessLogErrors logs failed calls as AccessLogAll does and
	// successful ones at debug, so that they show only with
	// log-level=debug.
	AccessLogErrors AccessLog = "errors"
	// AccessLogOff removes the logging link from the chain: no access
	// line, and no cost.
	AccessLogOff AccessLog = "off"
)

// ParseAccessLog parses an access log mode; "" is AccessLogAll.
func ParseAccessLog(s string) (AccessLog, error) {
	switch m := AccessLog(s); m {
	case "":
		return AccessLogAll, nil
	case AccessLogAll, AccessLogErrors, AccessLogOff:
		return m, nil
	}
	return "", fmt.Errorf("want all, errors or off, got %q", s)
}

// successAtDebug maps OK to debug and every other code as the
// middleware's server default does.
func successAtDebug(c codes.Code) logging.Level {
	if c == codes.OK {
		return logging.LevelDebug
	}
	return logging.DefaultServerCodeToLevel(c)
}

// accessLogStage returns the logging link of mode, or false when the mode
// logs nothing.
func accessLogStage(log *slog.Logger, mode AccessLog) (stage, bool) {
	if mode == AccessLogOff {
		return stage{}, false
	}
	logger := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		log.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	opts := func(levels logging.CodeToLevel) []logging.Option {
		return []logging.Option{logging.WithLogOnEvents(logging.FinishCall), logging.WithLevels(levels)}
	}
	calls := logging.DefaultServerCodeToLevel
	if mode == AccessLogErrors {
		calls = successAtDebug
	}
	unary := accessLogUnary(log, calls, successAtDebug) // the middleware's line, built only when logged
	stream, probesStream := logging.StreamServerInterceptor(logger, opts(calls)...), logging.StreamServerInterceptor(logger, opts(successAtDebug)...)
	return stage{
		name:  StageLogging,
		unary: unary,
		stream: func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if PublicService(info.FullMethod) {
				return probesStream(srv, ss, info, h)
			}
			return stream(srv, ss, info, h)
		},
	}, true
}
