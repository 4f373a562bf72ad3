package tokenapi_test

import (
	"testing"

	"github.com/tokend/tokend/server/tokenapi"
)

func TestAudited(t *testing.T) {
	t.Parallel()
	audited := []string{
		"/tokend.v1.TokenService/IssueToken", "/tokend.v1.TokenService/RefreshToken", "/tokend.v1.TokenService/RevokeToken",
		"/tokend.v1.AppService/CreateApp", "/tokend.v1.AppService/UpdateApp", "/tokend.v1.AppService/RotateAppKey",
		"/tokend.v1.AppService/RevokeAppKey", "/tokend.v1.AppService/RegisterAppKey",
		"/tokend.v1.CallerService/CreateCaller", "/tokend.v1.CallerService/DeleteCaller", "/tokend.v1.CallerService/RotateCallerKey",
	}
	notAudited := []string{
		"/tokend.v1.TokenService/ValidateToken", "/tokend.v1.TokenService/GetJWKS", "/tokend.v1.TokenService/WatchKeys",
		"/tokend.v1.AppService/GetApp", "/tokend.v1.AppService/ListApps", "/tokend.v1.AppService/ListAppKeys",
		"/tokend.v1.CallerService/ListCallers", "/grpc.health.v1.Health/Check", "garbage",
	}
	for _, m := range audited {
		if !tokenapi.Audited(m) {
			t.Errorf("%s is not audited", m)
		}
	}
	for _, m := range notAudited {
		if tokenapi.Audited(m) {
			t.Errorf("%s is audited", m)
		}
	}
}
