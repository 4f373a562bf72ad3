package tokenapi

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tokend/tokend/server/limit"
)

func TestRateLimitedStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		retry, want time.Duration
	}{
		{250 * time.Millisecond, 250 * time.Millisecond},
		{1500*time.Microsecond + 1, 2 * time.Millisecond}, // rounded up
		{0, time.Second}, // no hint: one second
	}
	for _, tt := range tests {
		t.Run(tt.retry.String(), func(t *testing.T) {
			t.Parallel()
			err := fmt.Errorf("wrapped: %w", &limit.LimitedError{Role: "issuer", RetryAfter: tt.retry})
			st := status.Convert(ToStatus(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)), err))
			if st.Code() != codes.ResourceExhausted {
				t.Fatalf("code %v, want ResourceExhausted", st.Code())
			}
			var retry *errdetails.RetryInfo
			var info *errdetails.ErrorInfo
			for _, d := range st.Details() {
				switch d := d.(type) {
				case *errdetails.RetryInfo:
					retry = d
				case *errdetails.ErrorInfo:
					info = d
				}
			}
			if retry == nil || retry.GetRetryDelay().AsDuration() != tt.want {
				t.Errorf("RetryInfo %v, want %s", retry, tt.want)
			}
			if info == nil || info.GetReason() != "RATE_LIMITED" || info.GetDomain() != ErrorDomain ||
				info.GetMetadata()["retryAfterMs"] != fmt.Sprint(tt.want.Milliseconds()) {
				t.Errorf("ErrorInfo %v", info)
			}
		})
	}
}
