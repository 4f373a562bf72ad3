package tokenapi

import (
	"errors"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/limit"
)

// rateLimited is the status of a call refused by the rate limiter:
// RESOURCE_EXHAUSTED with ErrorInfo RATE_LIMITED (metadata "retryAfterMs")
// and a google.rpc.RetryInfo holding the delay after which the caller's
// bucket has a token again.
func rateLimited(err error) error {
	retry := time.Second
	var le *limit.LimitedError
	if errors.As(err, &le) && le.RetryAfter > 0 {
		retry = le.RetryAfter
	}
	// Round up to whole milliseconds: retrying a little late always works.
	retry = (retry + time.Millisecond - 1).Truncate(time.Millisecond)
	st := status.New(codes.ResourceExhausted, "rate limit exceeded; retry after "+retry.String())
	withDetails, derr := st.WithDetails(
		&errdetails.ErrorInfo{
			Reason: ReasonString(tokendv1.ErrorReason_ERROR_REASON_RATE_LIMITED), Domain: ErrorDomain,
			Metadata: map[string]string{"retryAfterMs": strconv.FormatInt(retry.Milliseconds(), 10)},
		},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(retry)},
	)
	if derr != nil {
		return st.Err()
	}
	return withDetails.Err()
}
