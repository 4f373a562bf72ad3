package tokenapi

import (
	"context"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/token"
)

// Recorder counts what the token API answers; server/metrics implements
// it. An app is passed only once it is known to exist ("" otherwise), so
// that a label made of it stays bounded; an outcome is "OK" or the
// ErrorInfo reason of the error answered.
type Recorder interface {
	TokenIssued(app, outcome string)
	// TokenValidated counts a ValidateToken answer (reason is
	// token.ReasonNone for a valid token); it must not allocate.
	TokenValidated(app string, reason token.Reason)
	// ValidationRefused counts a ValidateToken request answered with an
	// error.
	ValidationRefused(outcome string)
	TokenRefreshed(app, outcome string)
	RefreshReuseDetected()
	// TokenRevoked counts a successful RevokeToken by target kind
	// (token_id, refresh_token or subject).
	TokenRevoked(kind string)
}

// AppKeys is what the Observer reads to turn ids into known apps: the
// key registry.
type AppKeys interface {
	App(appID string) (token.AppPolicy, bool)
	Key(kid string) (token.VerifyKey, bool)
}

// outcomeOK is the outcome of a call that succeeded.
const outcomeOK = "OK"

// Observer returns the unary interceptor that feeds rec with the outcome
// of every TokenService call and, when logApp is set, adds the call's app
// ("app") to its access log line. It reads identifiers only: never a
// token, a refresh token or a claim value. Place it inside the method
// authorization, so that it counts calls that reached a handler.
func Observer(rec Recorder, apps AppKeys, logApp bool) grpc.UnaryServerInterceptor {
	o := observer{rec: rec, apps: apps, logApp: logApp}
	return o.intercept
}

type observer struct {
	rec    Recorder
	apps   AppKeys
	logApp bool
}

func (o observer) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	app := ""
	switch info.FullMethod {
	case tokendv1.TokenService_ValidateToken_FullMethodName:
		app = o.validated(req, resp, err)
	case tokendv1.TokenService_IssueToken_FullMethodName:
		app = o.issued(req, err)
	case tokendv1.TokenService_RefreshToken_FullMethodName:
		app = o.refreshed(resp, err)
	case tokendv1.TokenService_RevokeToken_FullMethodName:
		if r, ok := req.(*tokendv1.RevokeTokenRequest); ok {
			app = r.GetAppId()
			if err == nil {
				o.rec.TokenRevoked(revokeKind(r))
			}
		}
	default:
		if r, ok := req.(interface{ GetAppId() string }); ok {
			app = r.GetAppId()
		}
	}
	if o.logApp && app != "" {
		logging.AddFields(ctx, logging.Fields{"app", app})
	}
	return resp, err
}

// validated counts a ValidateToken call and returns its app for the log:
// the token's (verified) app when valid, else the app the request named.
func (o observer) validated(req, resp any, err error) string {
	r, _ := req.(*tokendv1.ValidateTokenRequest)
	if err != nil {
		o.rec.ValidationRefused(errorReason(err))
		return r.GetAppId()
	}
	v, _ := resp.(*tokendv1.ValidateTokenResponse)
	if v.GetValid() {
		app := v.GetClaims().GetAppId()
		o.rec.TokenValidated(app, token.ReasonNone)
		return app
	}
	// Invalid: the token's app is not trusted; the app the caller named
	// is counted when it exists.
	app := r.GetAppId()
	if _, ok := o.apps.App(app); !ok {
		app = ""
	}
	o.rec.TokenValidated(app, reasonFromProto(v.GetReason()))
	return r.GetAppId()
}

func (o observer) issued(req any, err error) string {
	app := ""
	if r, ok := req.(*tokendv1.IssueTokenRequest); ok {
		app = r.GetAppId()
	}
	if err == nil {
		o.rec.TokenIssued(app, outcomeOK)
		return app
	}
	known := app
	if _, ok := o.apps.App(app); !ok {
		known = ""
	}
	o.rec.TokenIssued(known, errorReason(err))
	return app
}

func (o observer) refreshed(resp any, err error) string {
	if err != nil {
		reason := errorReason(err)
		if reason == ReasonString(tokendv1.ErrorReason_ERROR_REASON_REFRESH_TOKEN_REUSED) {
			o.rec.RefreshReuseDetected()
		}
		o.rec.TokenRefreshed("", reason)
		return ""
	}
	app := ""
	if r, ok := resp.(*tokendv1.RefreshTokenResponse); ok {
		if k, ok := o.apps.Key(r.GetKeyId()); ok {
			app = k.AppID
		}
	}
	o.rec.TokenRefreshed(app, outcomeOK)
	return app
}

func revokeKind(r *tokendv1.RevokeTokenRequest) string {
	switch r.GetTarget().(type) {
	case *tokendv1.RevokeTokenRequest_TokenId:
		return "token_id"
	case *tokendv1.RevokeTokenRequest_RefreshToken:
		return "refresh_token"
	case *tokendv1.RevokeTokenRequest_Subject:
		return "subject"
	}
	return "unknown"
}

// errorReason is the ErrorInfo reason of a status error, else its code.
func errorReason(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return "UNKNOWN"
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == ErrorDomain {
			return info.GetReason()
		}
	}
	return st.Code().String()
}

// reasonFromProto is the inverse of reasonToProto.
func reasonFromProto(r tokendv1.InvalidReason) token.Reason {
	for i, p := range invalidReasons {
		if p == r {
			return token.Reason(i)
		}
	}
	return token.ReasonMalformed
}
