package tokenapi_test

import (
	"errors"
	"io"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/servertest"
)

// TestMalformedRequestIsInvalidArgument: bytes that are no protobuf
// encoding of the request are a bad request (INVALID_ARGUMENT with an
// ErrorInfo), not INTERNAL as grpc-go would answer, for unary calls and
// for the message a stream receives. FuzzRPC (server package) found it.
func TestMalformedRequestIsInvalidArgument(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	for _, tc := range []struct {
		name, method string
		body         []byte
	}{
		{"truncated varint", tokendv1.TokenService_IssueToken_FullMethodName, []byte("0")},
		{"truncated length", tokendv1.TokenService_ValidateToken_FullMethodName, []byte{0x0a, 0x05, 'a'}},
		{"wrong wire type", tokendv1.TokenService_ValidateToken_FullMethodName, []byte{0x08, 0x01, 0x0b}},
		{"end group without start", tokendv1.AppService_CreateApp_FullMethodName, []byte{0x0c}},
		{"field number zero", tokendv1.CallerService_ListCallers_FullMethodName, []byte{0x02, 0x00}},
		{"health check", healthpb.Health_Check_FullMethodName, []byte{0x0a, 0x7f}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var resp tokendv1.ValidateTokenResponse
			err := h.Admin.Conn().Invoke(t.Context(), tc.method, tc.body, &resp, grpc.ForceCodecV2(rawCodec{}))
			var e *client.Error
			if !errors.As(err, &e) || e.Code != codes.InvalidArgument || e.Reason != "INVALID_ARGUMENT" {
				t.Fatalf("got %#v, want INVALID_ARGUMENT with reason INVALID_ARGUMENT", err)
			}
		})
	}
	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		desc := &grpc.StreamDesc{ServerStreams: true}
		s, err := h.Admin.Conn().NewStream(t.Context(), desc, tokendv1.TokenService_WatchKeys_FullMethodName, grpc.ForceCodecV2(rawCodec{}))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SendMsg([]byte{0x0a, 0x05, 'a'}); err != nil {
			t.Fatal(err)
		}
		_ = s.CloseSend()
		var msg tokendv1.WatchKeysResponse
		err = s.RecvMsg(&msg)
		var e *client.Error
		if errors.Is(err, io.EOF) || !errors.As(err, &e) || e.Code != codes.InvalidArgument || e.Reason != "INVALID_ARGUMENT" {
			t.Fatalf("got %#v, want INVALID_ARGUMENT with reason INVALID_ARGUMENT", err)
		}
	})
}
