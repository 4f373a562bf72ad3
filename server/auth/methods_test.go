package auth_test

import (
	"errors"
	"fmt"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/auth"
)

// Linked so that the registry holds the services of gen/ and Envoy's.
var _ = []any{tokendv1.File_tokend_v1_token_proto, authv3.File_envoy_service_auth_v3_external_auth_proto}

// rpcsOf returns the full gRPC method names of every service of a proto
// package found in the global registry.
func rpcsOf(t *testing.T, pkg protoreflect.FullName) []string {
	t.Helper()
	var out []string
	protoregistry.GlobalFiles.RangeFilesByPackage(pkg, func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			svc := fd.Services().Get(i)
			for j := range svc.Methods().Len() {
				out = append(out, fmt.Sprintf("/%s/%s", svc.FullName(), svc.Methods().Get(j).Name()))
			}
		}
		return true
	})
	if len(out) == 0 {
		t.Fatalf("no service of package %s is registered", pkg)
	}
	return out
}

// Every RPC of every service in gen/ has a role: a new RPC cannot ship
// without one (it would be refused to everyone, and this test fails).
func TestEveryRPCHasARole(t *testing.T) {
	t.Parallel()
	for _, m := range rpcsOf(t, "tokend.v1") {
		if _, ok := auth.MethodRole(m); !ok {
			t.Errorf("RPC %s has no entry in the method -> role table (server/auth/methods.go)", m)
		}
	}
}

// Every entry names a real RPC, so that a renamed RPC cannot leave a stale
// entry behind while its new name is refused.
func TestEveryRoleEntryIsAnRPC(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, pkg := range []protoreflect.FullName{"tokend.v1", "envoy.service.auth.v3"} {
		for _, m := range rpcsOf(t, pkg) {
			known[m] = true
		}
	}
	for _, m := range auth.Methods() {
		if !known[m] {
			t.Errorf("method table entry %s is not an RPC of a registered service", m)
		}
	}
}

func TestAuthorizeMethod(t *testing.T) {
	t.Parallel()
	// The roles of DESIGN.md section 3: admin everything, issuer issues,
	// refreshes and revokes, validator validates and reads keys.
	allowed := map[string]map[string]bool{
		auth.RoleIssuer: {
			"/tokend.v1.TokenService/IssueToken": true, "/tokend.v1.TokenService/RefreshToken": true,
			"/tokend.v1.TokenService/RevokeToken": true,
		},
		auth.RoleValidator: {
			"/tokend.v1.TokenService/ValidateToken": true, "/tokend.v1.TokenService/GetJWKS": true,
			"/tokend.v1.TokenService/WatchKeys": true, "/envoy.service.auth.v3.Authorization/Check": true,
		},
	}
	methods := append(rpcsOf(t, "tokend.v1"), "/envoy.service.auth.v3.Authorization/Check", "/tokend.v1.TokenService/NoSuchMethod")
	for _, role := range []string{auth.RoleAdmin, auth.RoleIssuer, auth.RoleValidator} {
		for _, m := range methods {
			t.Run(role+m, func(t *testing.T) {
				t.Parallel()
				ctx := auth.WithCaller(t.Context(), auth.Caller{ID: "c", Name: role, Roles: []string{role}})
				_, known := auth.MethodRole(m)
				want := known && (role == auth.RoleAdmin || allowed[role][m])
				err := auth.AuthorizeMethod(ctx, m)
				if want && err != nil || !want && !errors.Is(err, auth.ErrRoleDenied) {
					t.Errorf("AuthorizeMethod(%s, %s) = %v, want allowed=%v", role, m, err, want)
				}
			})
		}
	}
	if err := auth.AuthorizeMethod(t.Context(), "/tokend.v1.TokenService/IssueToken"); !errors.Is(err, auth.ErrCredentialsMissing) {
		t.Errorf("AuthorizeMethod without a caller = %v, want ErrCredentialsMissing", err)
	}
}
