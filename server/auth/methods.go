package auth

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// methodRoles is the role each RPC requires, by full gRPC method name. It
// is checked by the interceptor chain after authentication, as a defence in
// depth: the handlers check the same role and the app scope themselves
// (RequireApp). A method missing here is refused to everyone, and a test
// fails when an RPC of the generated services has no entry, so that a new
// RPC cannot ship unprotected.
var methodRoles = map[string]string{
	"/tokend.v1.TokenService/IssueToken":    RoleIssuer,
	"/tokend.v1.TokenService/RefreshToken":  RoleIssuer,
	"/tokend.v1.TokenService/RevokeToken":   RoleIssuer,
	"/tokend.v1.TokenService/ValidateToken": RoleValidator,
	"/tokend.v1.TokenService/GetJWKS":       RoleValidator,
	"/tokend.v1.TokenService/WatchKeys":     RoleValidator,

	"/tokend.v1.AppService/CreateApp":      RoleAdmin,
	"/tokend.v1.AppService/GetApp":         RoleAdmin,
	"/tokend.v1.AppService/ListApps":       RoleAdmin,
	"/tokend.v1.AppService/UpdateApp":      RoleAdmin,
	"/tokend.v1.AppService/RotateAppKey":   RoleAdmin,
	"/tokend.v1.AppService/ListAppKeys":    RoleAdmin,
	"/tokend.v1.AppService/RevokeAppKey":   RoleAdmin,
	"/tokend.v1.AppService/RegisterAppKey": RoleAdmin,

	"/tokend.v1.CallerService/CreateCaller":    RoleAdmin,
	"/tokend.v1.CallerService/ListCallers":     RoleAdmin,
	"/tokend.v1.CallerService/DeleteCaller":    RoleAdmin,
	"/tokend.v1.CallerService/RotateCallerKey": RoleAdmin,

	// Envoy's external authorization check: a sidecar asking whether a
	// request's token is valid.
	"/envoy.service.auth.v3.Authorization/Check": RoleValidator,
}

// MethodRole returns the role a full gRPC method name requires, and false
// when the method is unknown.
func MethodRole(fullMethod string) (string, bool) {
	r, ok := methodRoles[fullMethod]
	return r, ok
}

// AuthorizeMethod checks that the context's caller has the role that
// fullMethod requires. Unknown methods are refused (ErrRoleDenied). The app
// scope is not checked here: it depends on the request, so the handlers
// check it.
func AuthorizeMethod(ctx context.Context, fullMethod string) error {
	role, ok := MethodRole(fullMethod)
	if !ok {
		return fmt.Errorf("%w: method %q has no role in the method table", ErrRoleDenied, fullMethod)
	}
	return RequireApp(ctx, role, "")
}

// Methods returns every method of the table, sorted.
func Methods() []string {
	return slices.Sorted(maps.Keys(methodRoles))
}
