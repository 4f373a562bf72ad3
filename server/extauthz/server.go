package extauthz

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/prometheus/client_golang/prometheus"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/token"
	"github.com/tokend/tokend/server/tokenapi"
)

// TokenValidator judges a token by the token rules. The server passes its
// *token.Validator, the one ValidateToken uses, so that both share the
// same rules, key registry and denylist.
type TokenValidator interface {
	Validate(raw string, want token.Expect) (token.Result, error)
}

// Server implements envoy.service.auth.v3.Authorization.
type Server struct {
	authv3.UnimplementedAuthorizationServer

	validator TokenValidator
	policy    *Policy
	log       *slog.Logger
	metrics   *decisions
}

var _ authv3.AuthorizationServer = (*Server)(nil)

// Option configures NewServer.
type Option func(*serverOptions)

type serverOptions struct {
	reg prometheus.Registerer
}

// WithMetrics registers the tokend_extauthz_checks_total counter (by HTTP
// status and reason) with reg.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(o *serverOptions) { o.reg = reg }
}

// NewServer returns the Check service for validator under policy (nil: the
// DefaultPolicy).
func NewServer(validator TokenValidator, policy *Policy, log *slog.Logger, opts ...Option) (*Server, error) {
	var o serverOptions
	for _, opt := range opts {
		opt(&o)
	}
	if policy == nil {
		policy = DefaultPolicy()
	}
	s := &Server{validator: validator, policy: policy, log: log}
	if o.reg != nil {
		m, err := newDecisions(o.reg)
		if err != nil {
			return nil, err
		}
		s.metrics = m
	}
	return s, nil
}

// Check decides on one proxied HTTP request. Whatever the token, the RPC
// itself succeeds and the decision is in the CheckResponse: OK with the
// upstream headers, or a denial (Status UNAUTHENTICATED with HTTP 401, or
// PERMISSION_DENIED with HTTP 403) carrying an RFC 6750 WWW-Authenticate
// challenge. Only the caller's own credentials fail the RPC.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	if err := auth.RequireApp(ctx, auth.RoleValidator, ""); err != nil {
		return nil, tokenapi.ToStatus(ctx, s.log, err)
	}
	hr := req.GetAttributes().GetRequest().GetHttp()
	rt := s.policy.match(hr.GetHost(), hr.GetPath())

	raw, ok := bearerToken(hr, s.policy.tokenHeader)
	if !ok {
		return s.deny(ctx, rt, denyNoToken, token.ReasonNone), nil
	}
	res, _ := s.validator.Validate(raw, token.Expect{}) // request-level errors come with ReasonMalformed
	if !res.Valid() {
		return s.deny(ctx, rt, denyInvalid, res.Reason), nil
	}
	aid := res.Claims.AppID
	caller, _ := auth.CallerFrom(ctx)
	switch {
	case !caller.MayUseApp(aid) || len(rt.apps) > 0 && !slices.Contains(rt.apps, aid):
		return s.deny(ctx, rt, denyScope, token.ReasonAppMismatch), nil
	case rt.audience != "" && !slices.Contains(res.Claims.Audience, rt.audience):
		return s.deny(ctx, rt, denyScope, token.ReasonAudienceMismatch), nil
	}
	s.metrics.count(allowed, token.ReasonNone)
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{
			OkResponse: upstream(rt, &res.Claims),
		},
	}, nil
}

// upstream is the OK response of a valid token on route rt: every
// configured header is set (overwriting what the client sent), and the
// token header (when stripped) and unset tokend headers are removed.
func upstream(rt *route, c *token.Claims) *authv3.OkHttpResponse {
	ok := &authv3.OkHttpResponse{HeadersToRemove: rt.remove}
	n := 0
	for _, h := range [...]string{rt.subjectHeader, rt.appIDHeader, rt.claimsHeader} {
		if h != "" {
			n++
		}
	}
	ok.Headers = make([]*corev3.HeaderValueOption, 0, n)
	if rt.subjectHeader != "" {
		if headerSafe(c.Subject) {
			ok.Headers = append(ok.Headers, setHeader(rt.subjectHeader, c.Subject))
		} else {
			// A subject that cannot travel verbatim (control characters,
			// non-ASCII) is not sent; the claims header carries it exactly.
			ok.HeadersToRemove = append(slices.Clip(ok.HeadersToRemove), rt.subjectHeader)
		}
	}
	if rt.appIDHeader != "" {
		ok.Headers = append(ok.Headers, setHeader(rt.appIDHeader, c.AppID))
	}
	if rt.claimsHeader != "" && len(rt.claims) > 0 {
		ok.Headers = append(ok.Headers, setHeader(rt.claimsHeader, encodeClaims(rt.claims, c)))
	}
	return ok
}

func setHeader(name, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: name, Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// denial is the kind of a refusal.
type denial int

const (
	allowed     denial = iota
	denyNoToken        // no bearer credential: 401, bare challenge
	denyInvalid        // the token is not valid: 401 invalid_token
	denyScope          // valid, but not for this route or caller: 403 insufficient_scope
)

// challenges are the WWW-Authenticate values, built once: [kind][reason].
var challenges = func() (c [4][token.ReasonRevoked + 1]string) {
	for kind := range c {
		for r := range c[kind] {
			c[kind][r] = newChallenge(denial(kind), token.Reason(r))
		}
	}
	return c
}()

// newChallenge is the RFC 6750 WWW-Authenticate value of a denial: no
// error code without a credential (section 3.1), invalid_token or
// insufficient_scope with the reason name otherwise.
func newChallenge(kind denial, reason token.Reason) string {
	switch kind {
	case denyInvalid:
		return `Bearer error="invalid_token", error_description="` + reason.String() + `"`
	case denyScope:
		return `Bearer error="insufficient_scope", error_description="` + reason.String() + `"`
	}
	return "Bearer"
}

// deny builds the denial of kind for reason and records it.
func (s *Server) deny(ctx context.Context, rt *route, kind denial, reason token.Reason) *authv3.CheckResponse {
	code, httpCode, label := codes.Unauthenticated, typev3.StatusCode_Unauthorized, reasonLabel(kind, reason)
	if kind == denyScope {
		code, httpCode = codes.PermissionDenied, typev3.StatusCode_Forbidden
	}
	challenge := challenges[kind][0]
	if int(reason) < len(challenges[kind]) {
		challenge = challenges[kind][reason]
	} else if kind != denyNoToken {
		challenge = newChallenge(kind, reason) // a reason newer than this table
	}
	s.metrics.count(kind, reason)
	logging.AddFields(ctx, logging.Fields{"extauthz.route", rt.name, "extauthz.status", int(httpCode), "extauthz.reason", label})
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code), Message: label},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: httpCode},
			Headers: []*corev3.HeaderValueOption{{
				Header:       &corev3.HeaderValue{Key: "www-authenticate", Value: challenge},
				AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
			}},
		}},
	}
}

// reasonLabel names a decision in logs and metrics: the InvalidReason name,
// MISSING_TOKEN without a bearer credential, OK when allowed.
func reasonLabel(kind denial, reason token.Reason) string {
	switch kind {
	case allowed:
		return "OK"
	case denyNoToken:
		return "MISSING_TOKEN"
	}
	return reason.String()
}

// bearerToken returns the token of the "Bearer <token>" credential in
// header name, false when there is none: the header is missing, repeated,
// of another scheme, or holds no token.
func bearerToken(hr *authv3.AttributeContext_HttpRequest, name string) (string, bool) {
	v, ok := hr.GetHeaders()[name]
	if !ok {
		// With encode_raw_headers, Envoy sends the header_map instead.
		found := 0
		for _, h := range hr.GetHeaderMap().GetHeaders() {
			if strings.EqualFold(h.GetKey(), name) {
				found++
				v = string(h.GetRawValue())
				if v == "" {
					v = h.GetValue()
				}
			}
		}
		if found != 1 {
			return "", false
		}
	}
	scheme, rest, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	tok := strings.Trim(rest, " \t")
	return tok, tok != ""
}
