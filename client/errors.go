package client

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
)

// ErrorDomain is the ErrorInfo domain of tokend's errors.
const ErrorDomain = "tokend"

// Error is an error answered by tokend.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Reason is the ErrorInfo reason, e.g. "APP_NOT_FOUND" (empty when the
	// error did not come from tokend).
	Reason string
	// Message is the status message.
	Message string
	// Metadata is the ErrorInfo metadata (e.g. "field").
	Metadata map[string]string
	// RetryDelay is the google.rpc.RetryInfo delay of a RESOURCE_EXHAUSTED
	// (rate limited) answer: wait at least this long before retrying. Zero
	// when the answer has none.
	RetryDelay time.Duration
}

func (e *Error) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("tokend: %s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("tokend: %s (%s): %s", e.Code, e.Reason, e.Message)
}

// Is matches sentinels of this package by reason.
func (e *Error) Is(target error) bool {
	var s *sentinel
	return errors.As(target, &s) && s.reason == e.Reason
}

// GRPCStatus lets status.FromError see the original status.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

type sentinel struct{ reason string }

func (s *sentinel) Error() string { return "tokend: " + s.reason }

func reasonSentinel(r tokendv1.ErrorReason) error {
	return &sentinel{reason: reasonName(r.String())}
}

func reasonName(enumName string) string { return strings.TrimPrefix(enumName, "ERROR_REASON_") }

// Sentinels for errors.Is on errors returned by the client's calls.
var (
	ErrInvalidArgument      = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT)
	ErrTokenEmpty           = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_TOKEN_EMPTY)
	ErrTokenTooLarge        = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_TOKEN_TOO_LARGE)
	ErrTokenNotUTF8         = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_TOKEN_NOT_UTF8)
	ErrTTLOutOfRange        = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_TTL_OUT_OF_RANGE)
	ErrClaimReserved        = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_CLAIM_RESERVED)
	ErrUnsupportedAlgorithm = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_UNSUPPORTED_ALGORITHM)
	ErrAppNotFound          = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_APP_NOT_FOUND)
	ErrCallerNotFound       = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_CALLER_NOT_FOUND)
	ErrKeyNotFound          = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_KEY_NOT_FOUND)
	ErrAppDisabled          = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_APP_DISABLED)
	ErrNoSigningKey         = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_NO_SIGNING_KEY)
	ErrAlreadyExists        = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_ALREADY_EXISTS)
	ErrRefreshInvalid       = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_REFRESH_TOKEN_INVALID)
	ErrRefreshExpired       = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_REFRESH_TOKEN_EXPIRED)
	ErrRefreshRevoked       = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_REFRESH_TOKEN_REVOKED)
	ErrRefreshReused        = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_REFRESH_TOKEN_REUSED)
	ErrCredentialsMissing   = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_CREDENTIALS_MISSING)
	ErrCredentialsInvalid   = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_CREDENTIALS_INVALID)
	ErrRoleDenied           = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_ROLE_DENIED)
	ErrAppScopeDenied       = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_APP_SCOPE_DENIED)
	ErrConflict             = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_CONFLICT)
	ErrStoreUnavailable     = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_STORE_UNAVAILABLE)
	ErrRateLimited          = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_RATE_LIMITED)
	ErrInternal             = reasonSentinel(tokendv1.ErrorReason_ERROR_REASON_INTERNAL)
)

// fromStatus converts a gRPC error into *Error (other errors pass through).
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &Error{Code: st.Code(), Message: st.Message()}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.GetDomain() == ErrorDomain && e.Reason == "" {
				e.Reason, e.Metadata = d.GetReason(), d.GetMetadata()
			}
		case *errdetails.RetryInfo:
			e.RetryDelay = d.GetRetryDelay().AsDuration()
		}
	}
	return e
}

// Sentinels for the reasons of an invalid token; InvalidTokenError returns
// them.
var (
	ErrMalformed           = invalidSentinel(tokendv1.InvalidReason_INVALID_REASON_MALFORMED)
	ErrUnsupportedTokenAlg = invalidSentinel(tokendv1.InvalidReason_INVALID_REASON_UNSUPPORTED_ALGORITHM)
	ErrUnknownKey          = invalidSentinel(tokendv1.InvalidReason_INVALID_REASON_UNKNOWN_KEY)
	ErrBadSignature        = invalidSentinel(tokendv1.InvalidReason_INVALID_REASON_BAD_SIGNATURE)
	ErrExpired             = invalidSentinel(tokendv1.InvalidReason_INVALID_REASON_EXPIRED)
	ErrNotYetValid         = invalidSentinel(tokendv1.InvalidReason_INVALID_REASON_NOT_YET_VALID)
	ErrLifetimeTooLong     = invalidSentinel(tokendv1.InvalidReason_INVALID_REASON_LIFETIME_TOO_LONG)
	ErrMissingClaim        = invalidSentinel(tokendv1.InvalidReason_INVALID_REASON_MISSING_CLAIM)
	ErrAudienceMismatch    = invalidSentinel(tokendv1.InvalidReason_INVALID_REASON_AUDIENCE_MISMATCH)
	ErrUnknownApp          = invalidSentinel(tokendv1.InvalidReason_INVALID_REASON_UNKNOWN_APP)
	ErrAppMismatch         = invalidSentinel(tokendv1.InvalidReason_INVALID_REASON_APP_MISMATCH)
	ErrTokenAppDisabled    = invalidSentinel(tokendv1.InvalidReason_INVALID_REASON_APP_DISABLED)
	ErrRevoked             = invalidSentinel(tokendv1.InvalidReason_INVALID_REASON_REVOKED)
)

var invalidReasonSentinels = map[tokendv1.InvalidReason]error{
	tokendv1.InvalidReason_INVALID_REASON_MALFORMED:             ErrMalformed,
	tokendv1.InvalidReason_INVALID_REASON_UNSUPPORTED_ALGORITHM: ErrUnsupportedTokenAlg,
	tokendv1.InvalidReason_INVALID_REASON_UNKNOWN_KEY:           ErrUnknownKey,
	tokendv1.InvalidReason_INVALID_REASON_BAD_SIGNATURE:         ErrBadSignature,
	tokendv1.InvalidReason_INVALID_REASON_EXPIRED:               ErrExpired,
	tokendv1.InvalidReason_INVALID_REASON_NOT_YET_VALID:         ErrNotYetValid,
	tokendv1.InvalidReason_INVALID_REASON_LIFETIME_TOO_LONG:     ErrLifetimeTooLong,
	tokendv1.InvalidReason_INVALID_REASON_MISSING_CLAIM:         ErrMissingClaim,
	tokendv1.InvalidReason_INVALID_REASON_AUDIENCE_MISMATCH:     ErrAudienceMismatch,
	tokendv1.InvalidReason_INVALID_REASON_UNKNOWN_APP:           ErrUnknownApp,
	tokendv1.InvalidReason_INVALID_REASON_APP_MISMATCH:          ErrAppMismatch,
	tokendv1.InvalidReason_INVALID_REASON_APP_DISABLED:          ErrTokenAppDisabled,
	tokendv1.InvalidReason_INVALID_REASON_REVOKED:               ErrRevoked,
}

type invalidReason struct{ name string }

func (e *invalidReason) Error() string { return "tokend: invalid token: " + e.name }

func invalidSentinel(r tokendv1.InvalidReason) error {
	return &invalidReason{name: strings.TrimPrefix(r.String(), "INVALID_REASON_")}
}

// InvalidTokenError is the error of a ValidateToken answer: nil when the
// token is valid, else an error that errors.Is matches with the sentinel of
// its reason (ErrExpired, ErrRevoked, ...) and that carries the detail.
func InvalidTokenError(resp *tokendv1.ValidateTokenResponse) error {
	if resp.GetValid() {
		return nil
	}
	s, ok := invalidReasonSentinels[resp.GetReason()]
	if !ok {
		s = ErrMalformed
	}
	return fmt.Errorf("%w: %s", s, resp.GetDetail())
}
