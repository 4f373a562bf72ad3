package tokenapi_test

import (
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/servertest"
)

// rawCodec sends pre-encoded request bytes as they are, so that a test can
// put on the wire what the generated clients refuse to encode.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}

func stringField(num protowire.Number, v string) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendString(b, v)
}

func TestInvalidUTF8IsInvalidArgument(t *testing.T) {
	t.Parallel()
	h := servertest.Start(t)
	bad := "\xff\xfe binary"
	// A Struct whose string value is not UTF-8, nested in IssueTokenRequest.claims.
	value := protowire.AppendTag(nil, 3, protowire.BytesType) // Value.string_value
	value = protowire.AppendString(value, bad)
	entry := append(stringField(1, "k"), protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), value)...)
	claims := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), entry)

	tests := []struct {
		name, method string
		req          []byte
		reason       string
		field        string
	}{
		{"binary token", "/tokend.v1.TokenService/ValidateToken", stringField(1, bad), "TOKEN_NOT_UTF8", "token"},
		{"binary audience", "/tokend.v1.TokenService/ValidateToken", append(stringField(1, "a.b.c"), stringField(2, bad)...), "INVALID_ARGUMENT", "audience"},
		{"binary subject", "/tokend.v1.TokenService/IssueToken", append(stringField(1, "app_x"), stringField(2, bad)...), "INVALID_ARGUMENT", "subject"},
		{"binary claim value", "/tokend.v1.TokenService/IssueToken",
			append(append(stringField(1, "app_x"), stringField(2, "s")...), protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), claims)...),
			"INVALID_ARGUMENT", "claims"},
		{"binary app name", "/tokend.v1.AppService/CreateApp", stringField(1, bad), "INVALID_ARGUMENT", "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var resp tokendv1.ValidateTokenResponse // never filled: every call fails
			err := h.Admin.Conn().Invoke(t.Context(), tt.method, tt.req, &resp, grpc.ForceCodecV2(rawCodec{}))
			var e *client.Error
			if !errors.As(err, &e) || e.Code != codes.InvalidArgument || e.Reason != tt.reason || e.Metadata["field"] != tt.field {
				t.Fatalf("got %#v, want INVALID_ARGUMENT %s on field %s", err, tt.reason, tt.field)
			}
		})
	}
	// A sound request still works through the same codec.
	v, err := h.Admin.ValidateToken(t.Context(), &tokendv1.ValidateTokenRequest{Token: "a.b.c"})
	if err != nil || v.GetValid() {
		t.Fatalf("sound request: %v, %v", v, err)
	}
}
