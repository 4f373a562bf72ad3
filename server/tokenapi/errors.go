package tokenapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

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

// ErrorDomain is the domain of every ErrorInfo tokend returns.
const ErrorDomain = "tokend"

// Errors the adapter itself raises.
var (
	errInvalidRequest = errors.New("tokenapi: invalid request")
	errAppNotFound    = errors.New("tokenapi: app not found")
	errCallerNotFound = errors.New("tokenapi: caller not found")
	errUnimplemented  = errors.New("tokenapi: not implemented")
)

// fieldError is a bad request field found by the adapter.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return fmt.Sprintf("%s: %s", e.field, e.msg) }
func (e *fieldError) Unwrap() error { return errInvalidRequest }

func invalidField(field, msg string) error { return &fieldError{field: field, msg: msg} }

// ReasonString is the ErrorInfo reason of an ErrorReason: its name without
// the ERROR_REASON_ prefix.
func ReasonString(r tokendv1.ErrorReason) string {
	return strings.TrimPrefix(r.String(), "ERROR_REASON_")
}

// ToStatus turns any error of the domain into a gRPC status error with an
// ErrorInfo. Unknown errors are logged with their text and become INTERNAL
// "internal error". A nil error stays nil.
func ToStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err // already a status (for example from an interceptor)
	}
	var (
		fe  *fieldError
		afe *app.FieldError
		cfe *auth.FieldError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return withInfo(codes.Canceled, tokendv1.ErrorReason_ERROR_REASON_CANCELED, "request canceled", nil)
	case errors.Is(err, context.DeadlineExceeded):
		return withInfo(codes.DeadlineExceeded, tokendv1.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "deadline exceeded", nil)

	case errors.Is(err, token.ErrTokenEmpty):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_TOKEN_EMPTY, "token is empty", field("token"))
	case errors.Is(err, token.ErrTokenTooLarge):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_TOKEN_TOO_LARGE, "token exceeds the maximum size", field("token"))
	case errors.Is(err, token.ErrTokenNotUTF8):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_TOKEN_NOT_UTF8, "token is not valid UTF-8", field("token"))
	case errors.Is(err, token.ErrTTLOutOfRange):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_TTL_OUT_OF_RANGE, err.Error(), field("ttl"))
	case errors.Is(err, token.ErrClaimReserved):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_CLAIM_RESERVED, err.Error(), field("claims"))
	case errors.Is(err, token.ErrInvalidSubject):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, err.Error(), field("subject"))
	case errors.Is(err, token.ErrInvalidNotBefore):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, err.Error(), field("not_before_delay"))
	case errors.Is(err, token.ErrInvalidAudience):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, err.Error(), field("audience"))
	case errors.Is(err, token.ErrInvalidClaims):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, err.Error(), field("claims"))
	case errors.Is(err, refresh.ErrInvalid):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_REFRESH_TOKEN_INVALID, "refresh token is not valid", field("refresh_token"))
	case errors.Is(err, refresh.ErrExpired):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_REFRESH_TOKEN_EXPIRED, "refresh token has expired", field("refresh_token"))
	case errors.Is(err, refresh.ErrRevoked):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_REFRESH_TOKEN_REVOKED, "refresh token was revoked", field("refresh_token"))
	case errors.Is(err, refresh.ErrReused):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_REFRESH_TOKEN_REUSED, "refresh token was already used; its family is now revoked", field("refresh_token"))
	case errors.As(err, &fe):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, fe.Error(), field(fe.field))
	case errors.As(err, &afe):
		reason := tokendv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT
		if errors.Is(afe, keys.ErrUnsupportedAlgorithm) {
			reason = tokendv1.ErrorReason_ERROR_REASON_UNSUPPORTED_ALGORITHM
		}
		return withInfo(codes.InvalidArgument, reason, afe.Field+": "+afe.Msg, field(afe.Field))
	case errors.As(err, &cfe):
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, cfe.Field+": "+cfe.Msg, field(cfe.Field))

	case errors.Is(err, auth.ErrCredentialsMissing):
		return withInfo(codes.Unauthenticated, tokendv1.ErrorReason_ERROR_REASON_CREDENTIALS_MISSING, "missing credentials: send \"authorization: Bearer <api key>\"", nil)
	case errors.Is(err, auth.ErrCredentialsInvalid):
		return withInfo(codes.Unauthenticated, tokendv1.ErrorReason_ERROR_REASON_CREDENTIALS_INVALID, "invalid credentials", nil)
	case errors.Is(err, auth.ErrRoleDenied):
		return withInfo(codes.PermissionDenied, tokendv1.ErrorReason_ERROR_REASON_ROLE_DENIED, "the caller's roles do not allow this method", nil)
	case errors.Is(err, auth.ErrAppScopeDenied):
		return withInfo(codes.PermissionDenied, tokendv1.ErrorReason_ERROR_REASON_APP_SCOPE_DENIED, "the caller may not act on this app", nil)
	case errors.Is(err, limit.ErrRateLimited):
		return rateLimited(err)

	case errors.Is(err, token.ErrAppNotFound), errors.Is(err, errAppNotFound):
		return withInfo(codes.NotFound, tokendv1.ErrorReason_ERROR_REASON_APP_NOT_FOUND, "app not found", nil)
	case errors.Is(err, keys.ErrKeyNotFound):
		return withInfo(codes.NotFound, tokendv1.ErrorReason_ERROR_REASON_KEY_NOT_FOUND, "key not found", nil)
	case errors.Is(err, errCallerNotFound):
		return withInfo(codes.NotFound, tokendv1.ErrorReason_ERROR_REASON_CALLER_NOT_FOUND, "caller not found", nil)
	case errors.Is(err, token.ErrAppDisabled):
		return withInfo(codes.FailedPrecondition, tokendv1.ErrorReason_ERROR_REASON_APP_DISABLED, "app is disabled", nil)
	case errors.Is(err, token.ErrNoSigningKey):
		return withInfo(codes.FailedPrecondition, tokendv1.ErrorReason_ERROR_REASON_NO_SIGNING_KEY, "the app has no key able to sign this token now", nil)
	case errors.Is(err, storage.ErrAlreadyExists):
		return withInfo(codes.AlreadyExists, tokendv1.ErrorReason_ERROR_REASON_ALREADY_EXISTS, "already exists", nil)
	case errors.Is(err, storage.ErrConflict):
		return withInfo(codes.Aborted, tokendv1.ErrorReason_ERROR_REASON_CONFLICT, "a concurrent change won; retry", nil)
	case errors.Is(err, storage.ErrUnavailable):
		return withInfo(codes.Unavailable, tokendv1.ErrorReason_ERROR_REASON_STORE_UNAVAILABLE, "store unavailable", nil)
	case errors.Is(err, errUnimplemented):
		return withInfo(codes.Unimplemented, tokendv1.ErrorReason_ERROR_REASON_UNIMPLEMENTED, err.Error(), nil)
	}
	log.ErrorContext(ctx, "internal error", slog.String("error", err.Error()))
	return withInfo(codes.Internal, tokendv1.ErrorReason_ERROR_REASON_INTERNAL, "internal error", nil)
}

func field(name string) map[string]string { return map[string]string{"field": name} }

func withInfo(code codes.Code, reason tokendv1.ErrorReason, msg string, md map[string]string) error {
	st := status.New(code, msg)
	withDetails, err := st.WithDetails(&errdetails.ErrorInfo{Reason: ReasonString(reason), Domain: ErrorDomain, Metadata: md})
	if err != nil {
		return st.Err()
	}
	return withDetails.Err()
}
