package tokenapi

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/token"
)

// AuditMessage is the message of every audit log record.
const AuditMessage = "audit"

// Audited reports whether a full method name is audited: IssueToken,
// RefreshToken, RevokeToken, and every AppService and CallerService method
// that changes something (all but Get* and List*).
func Audited(fullMethod string) bool {
	svc, method, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if !ok {
		return false
	}
	switch svc {
	case tokendv1.TokenService_ServiceDesc.ServiceName:
		return method == "IssueToken" || method == "RefreshToken" || method == "RevokeToken"
	case tokendv1.AppService_ServiceDesc.ServiceName, tokendv1.CallerService_ServiceDesc.ServiceName:
		return !strings.HasPrefix(method, "Get") && !strings.HasPrefix(method, "List")
	}
	return false
}

// AuditInterceptor logs one structured record (message "audit") per
// audited call, after the handler ran, with the caller, the method, the
// app, subject, token and key ids, the target caller, and the outcome:
// "code" (the gRPC code) and "reason" (the ErrorInfo reason). It runs after
// authentication and before the method authorization, so refusals are
// audited too; calls that fail authentication have no caller and appear in
// the access log only.
//
// It reads only identifiers from requests and responses, never a token, a
// refresh token, an API key or a private key. For RefreshToken, whose
// request holds nothing but the refresh token, the app and subject are read
// from the claims of the access token just issued.
func AuditInterceptor(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if !Audited(info.FullMethod) {
			return h(ctx, req)
		}
		rec := &auditRecord{}
		resp, err := h(context.WithValue(ctx, auditKey{}, rec), req)
		log.LogAttrs(ctx, slog.LevelInfo, AuditMessage, auditAttrs(ctx, info.FullMethod, req, resp, err, rec)...)
		return resp, err
	}
}

type auditKey struct{}

// auditRecord holds the fields a handler adds with AddAuditField.
type auditRecord struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

// AddAuditField adds a field to the audit record of the current call, for
// what only the handler knows (for example a refresh token's family id).
// Never pass a secret. Outside an audited call it does nothing.
func AddAuditField(ctx context.Context, key, value string) {
	if rec, ok := ctx.Value(auditKey{}).(*auditRecord); ok && value != "" {
		rec.mu.Lock()
		rec.attrs = append(rec.attrs, slog.String(key, value))
		rec.mu.Unlock()
	}
}

// maxAuditText bounds free text (a revocation reason) in audit records.
const maxAuditText = 256

func auditAttrs(ctx context.Context, method string, req, resp any, err error, rec *auditRecord) []slog.Attr {
	attrs := make([]slog.Attr, 0, 16)
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	// The request id is added by the server's log handler
	// (interceptor.LogHandler), as on every line of the call.
	c, _ := auth.CallerFrom(ctx)
	add("caller", c.Name)
	add("caller_id", c.ID)
	add("credential", c.Credential)
	add("method", strings.TrimPrefix(method, "/"))

	// Request identifiers. The getters exist on several request types; a
	// request without one answers "".
	if r, ok := req.(interface{ GetAppId() string }); ok {
		add("app", r.GetAppId())
	}
	if r, ok := req.(*tokendv1.IssueTokenRequest); ok {
		add("subject", r.GetSubject())
	}
	if r, ok := req.(*tokendv1.RevokeTokenRequest); ok {
		add("subject", r.GetSubject())
		add("token_id", r.GetTokenId())
		switch r.GetTarget().(type) {
		case *tokendv1.RevokeTokenRequest_TokenId:
			add("target", "token_id")
		case *tokendv1.RevokeTokenRequest_RefreshToken:
			add("target", "refresh_token") // the token itself is never logged
		case *tokendv1.RevokeTokenRequest_Subject:
			add("target", "subject")
		}
	}
	if r, ok := req.(interface{ GetKeyId() string }); ok {
		add("key_id", r.GetKeyId())
	}
	if r, ok := req.(interface{ GetCallerId() string }); ok {
		add("target_caller", r.GetCallerId())
	}
	if r, ok := req.(interface{ GetReason() string }); ok {
		add("note", truncate(r.GetReason(), maxAuditText))
	}

	// Response identifiers.
	if err == nil && resp != nil {
		switch r := resp.(type) {
		case *tokendv1.IssueTokenResponse:
			add("token_id", r.GetTokenId())
			add("key_id", r.GetKeyId())
		case *tokendv1.RefreshTokenResponse:
			add("token_id", r.GetTokenId())
			add("key_id", r.GetKeyId())
			if _, claims, ierr := token.Inspect(r.GetAccessToken()); ierr == nil {
				add("app", claimString(claims, "aid"))
				add("subject", claimString(claims, "sub"))
			}
		case *tokendv1.CreateAppResponse:
			add("app", r.GetApp().GetAppId())
			add("key_id", r.GetKey().GetKeyId())
		case *tokendv1.RotateAppKeyResponse:
			add("key_id", r.GetKey().GetKeyId())
		case *tokendv1.RegisterAppKeyResponse:
			add("key_id", r.GetKey().GetKeyId())
		case *tokendv1.CreateCallerResponse:
			add("target_caller", r.GetCaller().GetCallerId())
		}
	}
	rec.mu.Lock()
	attrs = append(attrs, rec.attrs...)
	rec.mu.Unlock()

	st := status.Convert(err)
	outcome := "success"
	switch {
	case err == nil:
	case st.Code() == codes.PermissionDenied || st.Code() == codes.Unauthenticated:
		outcome = "denied"
	default:
		outcome = "failure"
	}
	add("outcome", outcome)
	add("code", st.Code().String())
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == ErrorDomain {
			add("reason", info.GetReason())
		}
	}
	return dedupe(attrs)
}

// dedupe keeps the first attribute of each key.
func dedupe(attrs []slog.Attr) []slog.Attr {
	seen := make(map[string]bool, len(attrs))
	out := attrs[:0]
	for _, a := range attrs {
		if !seen[a.Key] {
			seen[a.Key] = true
			out = append(out, a)
		}
	}
	return out
}

func claimString(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
