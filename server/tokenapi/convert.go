package tokenapi

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/keys"
	"github.com/tokend/tokend/server/storage"
	"github.com/tokend/tokend/server/token"
)

// ts converts a time to a Timestamp; the zero time becomes nil.
func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// optDuration reads an optional Duration field: nil when unset.
func optDuration(name string, d *durationpb.Duration) (*time.Duration, error) {
	if d == nil {
		return nil, nil
	}
	if err := d.CheckValid(); err != nil {
		return nil, invalidField(name, "not a valid duration")
	}
	v := d.AsDuration()
	return &v, nil
}

// positiveDuration reads a Duration that, when set, must be > 0; unset or
// zero gives 0.
func positiveDuration(name string, d *durationpb.Duration) (time.Duration, error) {
	v, err := optDuration(name, d)
	if err != nil || v == nil {
		return 0, err
	}
	if *v < 0 {
		return 0, invalidField(name, "must not be negative")
	}
	return *v, nil
}

func appToProto(a storage.App) *tokendv1.App {
	return &tokendv1.App{
		AppId: a.ID, Name: a.Name, Description: a.Description, Region: a.Region, Enabled: a.Enabled,
		MaxTokenTtl: durationpb.New(a.MaxTokenTTL), DefaultTokenTtl: durationpb.New(a.DefaultTokenTTL),
		RefreshTokenIdleTtl: durationpb.New(a.RefreshIdleTTL), RefreshFamilyTtl: durationpb.New(a.RefreshFamilyTTL),
		KeyRotationPeriod: durationpb.New(a.KeyRotationPeriod),
		CreatedAt:         ts(a.CreatedAt), UpdatedAt: ts(a.UpdatedAt),
	}
}

var keyStates = map[storage.KeyState]tokendv1.KeyState{
	storage.KeyNext:       tokendv1.KeyState_KEY_STATE_NEXT,
	storage.KeyActive:     tokendv1.KeyState_KEY_STATE_ACTIVE,
	storage.KeyVerifyOnly: tokendv1.KeyState_KEY_STATE_VERIFY_ONLY,
	storage.KeyRetired:    tokendv1.KeyState_KEY_STATE_RETIRED,
}

func keyToProto(k keys.KeyView) *tokendv1.AppKey {
	out := &tokendv1.AppKey{
		KeyId: k.ID, AppId: k.AppID, Algorithm: k.Algorithm, PublicJwk: k.PublicJWK,
		State: keyStates[k.Effective], CreatedAt: ts(k.CreatedAt), VerifyUntil: ts(k.VerifyUntil),
	}
	if k.Effective == storage.KeyNext {
		out.ActivatesAt = ts(k.ActivatesAt)
	}
	return out
}

func callerToProto(c storage.Caller) *tokendv1.Caller {
	return &tokendv1.Caller{
		CallerId: c.ID, Name: c.Name, Roles: c.Roles, AppIds: c.AppIDs,
		MtlsIdentity: c.MTLSIdentity, CreatedAt: ts(c.CreatedAt),
	}
}

// invalidReasons maps the domain reasons to the contract's enum.
var invalidReasons = [...]tokendv1.InvalidReason{
	token.ReasonNone:                 tokendv1.InvalidReason_INVALID_REASON_UNSPECIFIED,
	token.ReasonMalformed:            tokendv1.InvalidReason_INVALID_REASON_MALFORMED,
	token.ReasonUnsupportedAlgorithm: tokendv1.InvalidReason_INVALID_REASON_UNSUPPORTED_ALGORITHM,
	token.ReasonUnknownKey:           tokendv1.InvalidReason_INVALID_REASON_UNKNOWN_KEY,
	token.ReasonBadSignature:         tokendv1.InvalidReason_INVALID_REASON_BAD_SIGNATURE,
	token.ReasonExpired:              tokendv1.InvalidReason_INVALID_REASON_EXPIRED,
	token.ReasonNotYetValid:          tokendv1.InvalidReason_INVALID_REASON_NOT_YET_VALID,
	token.ReasonLifetimeTooLong:      tokendv1.InvalidReason_INVALID_REASON_LIFETIME_TOO_LONG,
	token.ReasonMissingClaim:         tokendv1.InvalidReason_INVALID_REASON_MISSING_CLAIM,
	token.ReasonAudienceMismatch:     tokendv1.InvalidReason_INVALID_REASON_AUDIENCE_MISMATCH,
	token.ReasonUnknownApp:           tokendv1.InvalidReason_INVALID_REASON_UNKNOWN_APP,
	token.ReasonAppMismatch:          tokendv1.InvalidReason_INVALID_REASON_APP_MISMATCH,
	token.ReasonAppDisabled:          tokendv1.InvalidReason_INVALID_REASON_APP_DISABLED,
	token.ReasonRevoked:              tokendv1.InvalidReason_INVALID_REASON_REVOKED,
}

func reasonToProto(r token.Reason) tokendv1.InvalidReason {
	if r < 0 || int(r) >= len(invalidReasons) {
		return tokendv1.InvalidReason_INVALID_REASON_MALFORMED
	}
	return invalidReasons[r]
}

// claimsInto fills out with c, its timestamps pointing into times.
func claimsInto(c token.Claims, out *tokendv1.Claims, times *[3]timestamppb.Timestamp) error {
	out.Subject, out.AppId, out.Issuer, out.Audience, out.TokenId = c.Subject, c.AppID, c.Issuer, c.Audience, c.ID
	out.IssuedAt = tsInto(c.IssuedAt, &times[0])
	out.NotBefore = tsInto(c.NotBefore, &times[1])
	out.ExpiresAt = tsInto(c.ExpiresAt, &times[2])
	if len(c.Extra) > 0 {
		extra, err := structpb.NewStruct(c.Extra)
		if err != nil {
			return err
		}
		out.Extra = extra
	}
	return nil
}

// tsInto is ts writing into *into: nil for the zero time.
func tsInto(t time.Time, into *timestamppb.Timestamp) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	into.Seconds, into.Nanos = t.Unix(), int32(t.Nanosecond())
	return into
}
