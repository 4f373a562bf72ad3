package tokenapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/app"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/limit"
	"github.com/tokend/tokend/server/refresh"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/token"
)

// TestToStatus covers every row of the error mapping: the code, the
// ErrorInfo reason and domain, and that wrapped errors map the same.
func TestToStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		code   codes.Code
		reason string
	}{
		{context.Canceled, codes.Canceled, "CANCELED"},
		{context.DeadlineExceeded, codes.DeadlineExceeded, "DEADLINE_EXCEEDED"},
		{token.ErrTokenEmpty, codes.InvalidArgument, "TOKEN_EMPTY"},
		{token.ErrTokenTooLarge, codes.InvalidArgument, "TOKEN_TOO_LARGE"},
		{token.ErrTokenNotUTF8, codes.InvalidArgument, "TOKEN_NOT_UTF8"},
		{token.ErrTTLOutOfRange, codes.InvalidArgument, "TTL_OUT_OF_RANGE"},
		{token.ErrClaimReserved, codes.InvalidArgument, "CLAIM_RESERVED"},
		{token.ErrInvalidSubject, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{token.ErrInvalidNotBefore, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{token.ErrInvalidAudience, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{token.ErrInvalidClaims, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{refresh.ErrInvalid, codes.InvalidArgument, "REFRESH_TOKEN_INVALID"},
		{refresh.ErrExpired, codes.InvalidArgument, "REFRESH_TOKEN_EXPIRED"},
		{refresh.ErrRevoked, codes.InvalidArgument, "REFRESH_TOKEN_REVOKED"},
		{refresh.ErrReused, codes.InvalidArgument, "REFRESH_TOKEN_REUSED"},
		{invalidField("page_size", "bad"), codes.InvalidArgument, "INVALID_ARGUMENT"},
		{&app.FieldError{Field: "name", Msg: "required"}, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{&app.FieldError{Field: "algorithm", Msg: "no", Cause: keys.ErrUnsupportedAlgorithm}, codes.InvalidArgument, "UNSUPPORTED_ALGORITHM"},
		{&auth.FieldError{Field: "roles", Msg: "bad"}, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{auth.ErrCredentialsMissing, codes.Unauthenticated, "CREDENTIALS_MISSING"},
		{auth.ErrCredentialsInvalid, codes.Unauthenticated, "CREDENTIALS_INVALID"},
		{auth.ErrRoleDenied, codes.PermissionDenied, "ROLE_DENIED"},
		{auth.ErrAppScopeDenied, codes.PermissionDenied, "APP_SCOPE_DENIED"},
		{&limit.LimitedError{Role: "issuer", RetryAfter: time.Second}, codes.ResourceExhausted, "RATE_LIMITED"},
		{token.ErrAppNotFound, codes.NotFound, "APP_NOT_FOUND"},
		{errAppNotFound, codes.NotFound, "APP_NOT_FOUND"},
		{errCallerNotFound, codes.NotFound, "CALLER_NOT_FOUND"},
		{keys.ErrKeyNotFound, codes.NotFound, "KEY_NOT_FOUND"},
		{token.ErrAppDisabled, codes.FailedPrecondition, "APP_DISABLED"},
		{token.ErrNoSigningKey, codes.FailedPrecondition, "NO_SIGNING_KEY"},
		{storage.ErrAlreadyExists, codes.AlreadyExists, "ALREADY_EXISTS"},
		{storage.ErrConflict, codes.Aborted, "CONFLICT"},
		{storage.ErrUnavailable, codes.Unavailable, "STORE_UNAVAILABLE"},
		{errUnimplemented, codes.Unimplemented, "UNIMPLEMENTED"},
		{errors.New("disk on fire: /secret/path"), codes.Internal, "INTERNAL"},
	}
	for _, tt := range tests {
		for _, err := range []error{tt.err, fmt.Errorf("layer: %w", tt.err)} {
			t.Run(err.Error(), func(t *testing.T) {
				var logs strings.Builder
				log := slog.New(slog.NewTextHandler(&logs, nil))
				st := status.Convert(ToStatus(t.Context(), log, err))
				if st.Code() != tt.code {
					t.Errorf("code = %s, want %s", st.Code(), tt.code)
				}
				var info *errdetails.ErrorInfo
				for _, d := range st.Details() {
					if i, ok := d.(*errdetails.ErrorInfo); ok {
						info = i
					}
				}
				if info == nil || info.GetReason() != tt.reason || info.GetDomain() != "tokend" {
					t.Errorf("ErrorInfo = %v, want reason %s domain tokend", info, tt.reason)
				}
				if tt.code == codes.Internal {
					if st.Message() != "internal error" {
						t.Errorf("INTERNAL message %q leaks the error text", st.Message())
					}
					if !strings.Contains(logs.String(), "disk on fire") {
						t.Errorf("the internal error was not logged")
					}
				}
			})
		}
	}
	if ToStatus(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil) != nil {
		t.Error("ToStatus(nil) != nil")
	}
}

// TestReasonsMatchTheContract checks that every domain Reason has an
// InvalidReason of the same name, and every ErrorReason a stable string.
func TestReasonsMatchTheContract(t *testing.T) {
	t.Parallel()
	for r := token.ReasonNone + 1; r <= token.ReasonRevoked; r++ {
		if got := strings.TrimPrefix(reasonToProto(r).String(), "INVALID_REASON_"); got != r.String() {
			t.Errorf("reason %s maps to %s", r, got)
		}
	}
	for v := range tokendv1.ErrorReason_name {
		if s := ReasonString(tokendv1.ErrorReason(v)); strings.HasPrefix(s, "ERROR_REASON_") || s == "" {
			t.Errorf("ReasonString(%d) = %q", v, s)
		}
	}
}
