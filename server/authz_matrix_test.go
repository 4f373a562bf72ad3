package server_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/servertest"
)

// scope says how a method meets the caller's app scope.
type scope int

const (
	scopeApp      scope = iota // the request names an app: the caller's scope must cover it
	scopeFiltered              // no app in the request; answers are limited to the scope
	scopeAllApps               // acts on every app (or on callers): only unscoped callers
)

// matrixMethod is one RPC of the matrix: the role DESIGN.md section 3
// gives it, how it meets app scopes, and a call of it through the real
// client. call returns errSkipCell when a precondition cannot be set up,
// which fails the cell.
type matrixMethod struct {
	role  string
	scope scope
	call  func(ctx context.Context, c *client.Client, app string) error
}

var errSkipCell = errors.New("cell skipped")

// matrixCaller is a caller of the matrix.
type matrixCaller struct {
	name  string
	roles []string
	appA  bool // scoped to app A only
}

func (mc matrixCaller) allowed(m matrixMethod, app string, appA string) (bool, string) {
	hasRole := slices.Contains(mc.roles, "admin") || slices.Contains(mc.roles, m.role)
	if !hasRole {
		return false, "ROLE_DENIED"
	}
	if !mc.appA {
		return true, ""
	}
	switch m.scope {
	case scopeApp:
		if app != appA {
			return false, "APP_SCOPE_DENIED"
		}
	case scopeAllApps:
		return false, "APP_SCOPE_DENIED"
	}
	return true, ""
}

// TestAuthzMatrix drives every RPC of every service with every kind of
// caller on an app inside and outside its scope, through the real server
// with real callers, and checks allowed versus PERMISSION_DENIED with its
// reason. Allowed means the call passed authorization: it may still fail
// for its own reasons (a key id that does not exist is NOT_FOUND).
func TestAuthzMatrix(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	ctx := t.Context()
	appA := createApp(t, h.Admin, "").GetApp().GetAppId()
	appB := createApp(t, h.Admin, "").GetApp().GetAppId()

	// A fresh access token and refresh token of an app, issued by the admin.
	issue := func(ctx context.Context, app string, refresh bool) (*tokendv1.IssueTokenResponse, error) {
		return h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: app, Subject: "matrix", IssueRefreshToken: refresh})
	}
	methods := map[string]matrixMethod{
		"/tokend.v1.TokenService/IssueToken": {"issuer", scopeApp, func(ctx context.Context, c *client.Client, app string) error {
			_, err := c.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: app, Subject: "s"})
			return err
		}},
		"/tokend.v1.TokenService/RefreshToken": {"issuer", scopeApp, func(ctx context.Context, c *client.Client, app string) error {
			tok, err := issue(ctx, app, true)
			if err != nil || tok.GetRefreshToken() == "" {
				return fmt.Errorf("%w: no refresh token to use: %v", errSkipCell, err)
			}
			_, err = c.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: tok.GetRefreshToken()})
			return err
		}},
		"/tokend.v1.TokenService/RevokeToken": {"issuer", scopeApp, func(ctx context.Context, c *client.Client, app string) error {
			_, err := c.RevokeToken(ctx, &tokendv1.RevokeTokenRequest{AppId: app, Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: "matrix-jti"}, Reason: "matrix"})
			return err
		}},
		"/tokend.v1.TokenService/ValidateToken": {"validator", scopeApp, func(ctx context.Context, c *client.Client, app string) error {
			tok, err := issue(ctx, app, false)
			if err != nil {
				return fmt.Errorf("%w: %v", errSkipCell, err)
			}
			_, err = c.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: tok.GetAccessToken(), AppId: app})
			return err
		}},
		"/tokend.v1.TokenService/GetJWKS": {"validator", scopeApp, func(ctx context.Context, c *client.Client, app string) error {
			_, err := c.GetJWKS(ctx, &tokendv1.GetJWKSRequest{AppId: app})
			return err
		}},
		"/tokend.v1.TokenService/WatchKeys": {"validator", scopeApp, func(ctx context.Context, c *client.Client, app string) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			st, err := c.WatchKeys(ctx, &tokendv1.WatchKeysRequest{AppId: app})
			if err != nil {
				return err
			}
			_, err = st.Recv()
			return err
		}},
		"/tokend.v1.AppService/CreateApp": {"admin", scopeAllApps, func(ctx context.Context, c *client.Client, _ string) error {
			_, err := c.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "matrix", Algorithm: "EdDSA"})
			return err
		}},
		"/tokend.v1.AppService/GetApp": {"admin", scopeApp, func(ctx context.Context, c *client.Client, app string) error {
			_, err := c.GetApp(ctx, &tokendv1.GetAppRequest{AppId: app})
			return err
		}},
		"/tokend.v1.AppService/ListApps": {"admin", scopeFiltered, func(ctx context.Context, c *client.Client, _ string) error {
			_, err := c.ListApps(ctx, &tokendv1.ListAppsRequest{})
			return err
		}},
		"/tokend.v1.AppService/UpdateApp": {"admin", scopeApp, func(ctx context.Context, c *client.Client, app string) error {
			desc := "updated by the matrix"
			_, err := c.UpdateApp(ctx, &tokendv1.UpdateAppRequest{AppId: app, Description: &desc})
			return err
		}},
		"/tokend.v1.AppService/RotateAppKey": {"admin", scopeApp, func(ctx context.Context, c *client.Client, app string) error {
			_, err := c.RotateAppKey(ctx, &tokendv1.RotateAppKeyRequest{AppId: app, ActivationDelay: durationpb.New(time.Hour)})
			return err
		}},
		"/tokend.v1.AppService/ListAppKeys": {"admin", scopeApp, func(ctx context.Context, c *client.Client, app string) error {
			_, err := c.ListAppKeys(ctx, &tokendv1.ListAppKeysRequest{AppId: app})
			return err
		}},
		"/tokend.v1.AppService/RevokeAppKey": {"admin", scopeApp, func(ctx context.Context, c *client.Client, app string) error {
			_, err := c.RevokeAppKey(ctx, &tokendv1.RevokeAppKeyRequest{AppId: app, KeyId: "no-such-key"})
			return err
		}},
		"/tokend.v1.AppService/RegisterAppKey": {"admin", scopeApp, func(ctx context.Context, c *client.Client, app string) error {
			_, err := c.RegisterAppKey(ctx, &tokendv1.RegisterAppKeyRequest{AppId: app, PublicKey: "not a key", Algorithm: "ES256"})
			return err
		}},
		"/tokend.v1.CallerService/CreateCaller": {"admin", scopeAllApps, func(ctx context.Context, c *client.Client, _ string) error {
			_, err := c.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: "matrix-no-role"}) // invalid: no role
			return err
		}},
		"/tokend.v1.CallerService/ListCallers": {"admin", scopeAllApps, func(ctx context.Context, c *client.Client, _ string) error {
			_, err := c.ListCallers(ctx, &tokendv1.ListCallersRequest{})
			return err
		}},
		"/tokend.v1.CallerService/DeleteCaller": {"admin", scopeAllApps, func(ctx context.Context, c *client.Client, _ string) error {
			_, err := c.DeleteCaller(ctx, &tokendv1.DeleteCallerRequest{CallerId: "c_no_such_caller"})
			return err
		}},
		"/tokend.v1.CallerService/RotateCallerKey": {"admin", scopeAllApps, func(ctx context.Context, c *client.Client, _ string) error {
			_, err := c.RotateCallerKey(ctx, &tokendv1.RotateCallerKeyRequest{CallerId: "c_no_such_caller"})
			return err
		}},
	}

	// The matrix covers every RPC of every service of gen/.
	var rpcs []string
	protoregistry.GlobalFiles.RangeFilesByPackage("tokend.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			svc := fd.Services().Get(i)
			for j := range svc.Methods().Len() {
				rpcs = append(rpcs, fmt.Sprintf("/%s/%s", svc.FullName(), svc.Methods().Get(j).Name()))
			}
		}
		return true
	})
	for _, m := range rpcs {
		if _, ok := methods[m]; !ok {
			t.Errorf("RPC %s is missing from the authorization matrix", m)
		}
	}

	callers := []matrixCaller{
		{name: "admin", roles: []string{"admin"}},
		{name: "admin-a", roles: []string{"admin"}, appA: true},
		{name: "issuer", roles: []string{"issuer"}},
		{name: "issuer-a", roles: []string{"issuer"}, appA: true},
		{name: "validator", roles: []string{"validator"}},
		{name: "validator-a", roles: []string{"validator"}, appA: true},
		{name: "issuer-validator-a", roles: []string{"issuer", "validator"}, appA: true},
	}
	clients := map[string]*client.Client{}
	for _, mc := range callers {
		req := &tokendv1.CreateCallerRequest{Name: mc.name, Roles: mc.roles}
		if mc.appA {
			req.AppIds = []string{appA}
		}
		resp, err := h.Admin.CreateCaller(ctx, req)
		if err != nil {
			t.Fatalf("CreateCaller %s: %v", mc.name, err)
		}
		clients[mc.name] = h.Client(t, resp.GetApiKey())
	}

	for _, mc := range callers {
		for name, m := range methods {
			apps := []string{appA, appB}
			if m.scope != scopeApp {
				apps = []string{""}
			}
			for _, app := range apps {
				label := map[string]string{appA: "app-A", appB: "app-B", "": "no-app"}[app]
				t.Run(fmt.Sprintf("%s%s/%s", mc.name, name, label), func(t *testing.T) {
					t.Parallel()
					ok, reason := mc.allowed(m, app, appA)
					err := m.call(t.Context(), clients[mc.name], app)
					if errors.Is(err, errSkipCell) {
						t.Fatalf("precondition of the cell failed: %v", err)
					}
					code, gotReason := codeReason(err)
					if ok {
						if code == codes.PermissionDenied || code == codes.Unauthenticated {
							t.Errorf("refused with %v, want allowed", err)
						}
						return
					}
					switch {
					case code == codes.PermissionDenied && gotReason == reason:
					default:
						t.Errorf("got %v, want PERMISSION_DENIED %s", err, reason)
					}
				})
			}
		}
	}
}

// codeReason returns the code and ErrorInfo reason of a call's error, from
// the client's *Error (unary calls) or from the status (streams).
func codeReason(err error) (codes.Code, string) {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Code, e.Reason
	}
	st := status.Convert(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == "tokend" {
			return st.Code(), info.GetReason()
		}
	}
	return st.Code(), ""
}
