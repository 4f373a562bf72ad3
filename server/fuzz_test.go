package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/auth"
	"github.com/tokend/tokend/server/limit"
	"github.com/tokend/tokend/server/servertest"
)

// fuzzMethods are the unary RPCs FuzzRPC drives, by index. Append new
// methods at the end (the committed corpus names methods by index);
// TestFuzzMethodsCoverEveryRPC fails when one is missing.
var fuzzMethods = []string{
	tokendv1.TokenService_IssueToken_FullMethodName,
	tokendv1.TokenService_RefreshToken_FullMethodName,
	tokendv1.TokenService_ValidateToken_FullMethodName,
	tokendv1.TokenService_RevokeToken_FullMethodName,
	tokendv1.TokenService_GetJWKS_FullMethodName,
	tokendv1.AppService_CreateApp_FullMethodName,
	tokendv1.AppService_GetApp_FullMethodName,
	tokendv1.AppService_ListApps_FullMethodName,
	tokendv1.AppService_UpdateApp_FullMethodName,
	tokendv1.AppService_RotateAppKey_FullMethodName,
	tokendv1.AppService_ListAppKeys_FullMethodName,
	tokendv1.AppService_RevokeAppKey_FullMethodName,
	tokendv1.AppService_RegisterAppKey_FullMethodName,
	tokendv1.CallerService_CreateCaller_FullMethodName,
	tokendv1.CallerService_ListCallers_FullMethodName,
	tokendv1.CallerService_DeleteCaller_FullMethodName,
	tokendv1.CallerService_RotateCallerKey_FullMethodName,
	authv3.Authorization_Check_FullMethodName,
}

// TestFuzzMethodsCoverEveryRPC: FuzzRPC reaches every unary RPC tokend
// serves (WatchKeys, the one stream, is not a request-answer call).
func TestFuzzMethodsCoverEveryRPC(t *testing.T) {
	t.Parallel()
	for _, sd := range []grpc.ServiceDesc{tokendv1.TokenService_ServiceDesc, tokendv1.AppService_ServiceDesc,
		tokendv1.CallerService_ServiceDesc, authv3.Authorization_ServiceDesc} {
		for _, m := range sd.Methods {
			if full := "/" + sd.ServiceName + "/" + m.MethodName; !slices.Contains(fuzzMethods, full) {
				t.Errorf("FuzzRPC does not drive %s: add it to fuzzMethods", full)
			}
		}
	}
}

// fuzzWorld is a real server (the whole interceptor chain, the request
// codec, the handlers, the SQLite store) and a raw connection to it.
type fuzzWorld struct {
	conn   *grpc.ClientConn
	keys   [3]string // admin, issuer+validator scoped to app, bad key
	app    string    // an app with a signing key
	token  string    // a valid access token of app
	inputs []protoreflect.MessageType
}

func newRPCFuzzWorld(f *testing.F) *fuzzWorld {
	clock := servertest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	h := servertest.Start(f, servertest.WithClock(clock.Now), servertest.WithDiscardLogs(), servertest.WithConfig(func(c *server.Config) {
		c.RateLimitAdmin, c.RateLimitIssuer, c.RateLimitValidator = limit.Rate{}, limit.Rate{}, limit.Rate{}
	}))
	ctx := context.Background()
	created, err := h.Admin.CreateApp(ctx, &tokendv1.CreateAppRequest{Name: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	w := &fuzzWorld{app: created.GetApp().GetAppId()}
	caller, err := h.Admin.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: "fuzz-scoped",
		Roles: []string{auth.RoleIssuer, auth.RoleValidator}, AppIds: []string{w.app}})
	if err != nil {
		f.Fatal(err)
	}
	w.keys = [3]string{servertest.AdminKey, caller.GetApiKey(), "tkd_not-a-key-of-anyone-0123456789abcdef"}
	issued, err := h.Admin.IssueToken(ctx, &tokendv1.IssueTokenRequest{AppId: w.app, Subject: "alice"})
	if err != nil {
		f.Fatal(err)
	}
	w.token = issued.GetAccessToken()
	if w.conn, err = grpc.NewClient(h.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = w.conn.Close() })
	for _, full := range fuzzMethods {
		w.inputs = append(w.inputs, inputType(f, full))
	}
	return w
}

// inputType is the request message type of a full method name.
func inputType(tb testing.TB, full string) protoreflect.MessageType {
	tb.Helper()
	svc, method := full[1:], ""
	for i := len(svc) - 1; i >= 0; i-- {
		if svc[i] == '/' {
			svc, method = svc[:i], svc[i+1:]
			break
		}
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		tb.Fatalf("%s: %v", full, err)
	}
	md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(method))
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	if err != nil {
		tb.Fatalf("%s: %v", full, err)
	}
	return mt
}

// request is the body to send: the fuzzed bytes, or, when they decode as
// the method's request and useKnown is set, the same request with its
// app_id and token fields pointing at the world's app and token, so that
// the fuzzer reaches past "not found".
func (w *fuzzWorld) request(i int, body []byte, useKnown bool) ([]byte, proto.Message) {
	msg := w.inputs[i].New().Interface()
	if err := proto.Unmarshal(body, msg); err != nil {
		return body, nil
	}
	if !useKnown {
		return body, msg
	}
	fields := msg.ProtoReflect().Descriptor().Fields()
	for name, v := range map[protoreflect.Name]string{"app_id": w.app, "token": w.token} {
		if fd := fields.ByName(name); fd != nil && fd.Kind() == protoreflect.StringKind && fd.Cardinality() != protoreflect.Repeated {
			msg.ProtoReflect().Set(fd, protoreflect.ValueOfString(v))
		}
	}
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return body, nil
	}
	return out, msg
}

// FuzzRPC sends any bytes as the request of any unary RPC, with any of
// the callers, through the real server. Whatever the input: nothing
// panics, no call is INTERNAL or UNKNOWN, and every error carries a
// google.rpc.ErrorInfo of domain tokend with a reason.
func FuzzRPC(f *testing.F) {
	w := newRPCFuzzWorld(f)
	for i, full := range fuzzMethods {
		f.Add(uint8(i), uint8(0), true, []byte{})
		for _, ex := range fuzzExamples(full) {
			b, err := proto.Marshal(ex)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), uint8(0), true, b)
			f.Add(uint8(i), uint8(1), false, b)
		}
	}
	f.Fuzz(func(t *testing.T, method, who uint8, useKnown bool, body []byte) {
		if len(body) > 64<<10 {
			return // above the transport's message limit, gRPC itself answers RESOURCE_EXHAUSTED
		}
		i := int(method) % len(fuzzMethods)
		full := fuzzMethods[i]
		body, msg := w.request(i, body, useKnown)
		if c, ok := msg.(interface{ GetCallerId() string }); ok && c.GetCallerId() == auth.BootstrapAdminID {
			return // deleting or rotating away the fuzzer's own admin ends the run's usefulness, not the server
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if k := int(who) % 4; k < 3 {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+w.keys[k])
		}
		resp := &emptypb.Empty{} // only the error matters; any answer decodes as unknown fields
		err := w.conn.Invoke(ctx, full, body, resp, grpc.ForceCodecV2(wireCodec{}))
		if err == nil {
			return
		}
		st, ok := status.FromError(err)
		if !ok {
			t.Fatalf("%s(%x): not a status: %v", full, body, err)
		}
		switch st.Code() {
		case codes.Internal, codes.Unknown, codes.DeadlineExceeded:
			t.Fatalf("%s(%x) as caller %d: %s %q", full, body, who%4, st.Code(), st.Message())
		}
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == "tokend" && info.GetReason() != "" {
				return
			}
		}
		t.Fatalf("%s(%x): %s %q without a tokend ErrorInfo", full, body, st.Code(), st.Message())
	})
}

// fuzzExamples are sound requests of a method: the seeds that start the
// fuzzer deep inside each handler.
func fuzzExamples(full string) []proto.Message {
	d := durationpb.New
	switch full {
	case tokendv1.TokenService_IssueToken_FullMethodName:
		claims, _ := structpb.NewStruct(map[string]any{"role": "reader", "n": 1.5, "deep": []any{map[string]any{"a": true}}})
		return []proto.Message{
			&tokendv1.IssueTokenRequest{AppId: "x", Subject: "alice", Ttl: d(15 * time.Minute), NotBeforeDelay: d(4 * time.Second),
				Audience: []string{"svc-a", "svc-b"}, Claims: claims, IssueRefreshToken: true},
			&tokendv1.IssueTokenRequest{AppId: "x", Subject: "bob", Ttl: d(-time.Hour)},
		}
	case tokendv1.TokenService_RefreshToken_FullMethodName:
		return []proto.Message{&tokendv1.RefreshTokenRequest{RefreshToken: "tkr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Ttl: d(time.Hour), IdempotencyKey: "k1"}}
	case tokendv1.TokenService_ValidateToken_FullMethodName:
		return []proto.Message{&tokendv1.ValidateTokenRequest{Token: "eyJhbGciOiJub25lIn0.e30.", Audience: "svc-a", AppId: "x"}}
	case tokendv1.TokenService_RevokeToken_FullMethodName:
		return []proto.Message{
			&tokendv1.RevokeTokenRequest{AppId: "x", Target: &tokendv1.RevokeTokenRequest_Subject{Subject: "alice"}, Reason: "fuzz"},
			&tokendv1.RevokeTokenRequest{AppId: "x", Target: &tokendv1.RevokeTokenRequest_TokenId{TokenId: "jti"}},
			&tokendv1.RevokeTokenRequest{AppId: "x", Target: &tokendv1.RevokeTokenRequest_RefreshToken{RefreshToken: "tkr_x"}},
		}
	case tokendv1.TokenService_GetJWKS_FullMethodName:
		return []proto.Message{&tokendv1.GetJWKSRequest{AppId: "x"}}
	case tokendv1.AppService_CreateApp_FullMethodName:
		return []proto.Message{&tokendv1.CreateAppRequest{Name: "n", Description: "d", Region: "eu", Algorithm: "EdDSA",
			MaxTokenTtl: d(2 * time.Hour), DefaultTokenTtl: d(time.Hour), RefreshTokenIdleTtl: d(time.Hour),
			RefreshFamilyTtl: d(48 * time.Hour), KeyRotationPeriod: d(24 * time.Hour)}}
	case tokendv1.AppService_GetApp_FullMethodName:
		return []proto.Message{&tokendv1.GetAppRequest{AppId: "x"}}
	case tokendv1.AppService_ListApps_FullMethodName:
		return []proto.Message{&tokendv1.ListAppsRequest{PageSize: 2, PageToken: "x"}}
	case tokendv1.AppService_UpdateApp_FullMethodName:
		return []proto.Message{&tokendv1.UpdateAppRequest{AppId: "x", Enabled: proto.Bool(false), Description: proto.String("d"), MaxTokenTtl: d(time.Hour)}}
	case tokendv1.AppService_RotateAppKey_FullMethodName:
		return []proto.Message{&tokendv1.RotateAppKeyRequest{AppId: "x", Algorithm: "ES256", ActivationDelay: d(0)}}
	case tokendv1.AppService_ListAppKeys_FullMethodName:
		return []proto.Message{&tokendv1.ListAppKeysRequest{AppId: "x"}}
	case tokendv1.AppService_RevokeAppKey_FullMethodName:
		return []proto.Message{&tokendv1.RevokeAppKeyRequest{AppId: "x", KeyId: "k_x", Reason: "fuzz"}}
	case tokendv1.AppService_RegisterAppKey_FullMethodName:
		return []proto.Message{&tokendv1.RegisterAppKeyRequest{AppId: "x", Algorithm: "EdDSA",
			PublicKey: `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`}}
	case tokendv1.CallerService_CreateCaller_FullMethodName:
		return []proto.Message{&tokendv1.CreateCallerRequest{Name: "c", Roles: []string{"validator"}, AppIds: []string{"x"},
			MtlsIdentity: "spiffe://example.org/ns/x/sa/y"}}
	case tokendv1.CallerService_ListCallers_FullMethodName:
		return []proto.Message{&tokendv1.ListCallersRequest{}}
	case tokendv1.CallerService_DeleteCaller_FullMethodName:
		return []proto.Message{&tokendv1.DeleteCallerRequest{CallerId: "c_x"}}
	case tokendv1.CallerService_RotateCallerKey_FullMethodName:
		return []proto.Message{&tokendv1.RotateCallerKeyRequest{CallerId: "c_x", GracePeriod: d(time.Hour)}}
	case authv3.Authorization_Check_FullMethodName:
		return []proto.Message{&authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Host: "shop.example.com", Path: "/orders/1", Method: "GET",
				Headers: map[string]string{"authorization": "Bearer a.b.c"}}}}}}
	}
	return nil
}
