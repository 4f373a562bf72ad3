package tokenapi

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
)

// A proto3 string field must hold UTF-8, and grpc-go answers a request that
// breaks this with INTERNAL "error unmarshalling request" before any
// handler runs. A client sending a binary token deserves INVALID_ARGUMENT
// naming the field, so the server uses Codec: when a request fails to decode
// only because of invalid UTF-8, it decodes the request without the
// offending top-level fields and records their names in an unknown field
// (invalidUTF8Field); RejectInvalidUTF8 then answers INVALID_ARGUMENT.
//
// A request that is not a protobuf encoding of its message at all
// (truncated, a wrong wire type, nesting past the decoder's limit) would
// be INTERNAL as well; Codec decodes it as an empty message carrying only
// the malformedField marker, and the same interceptors answer
// INVALID_ARGUMENT. Streams get the same answer from RejectInvalidUTF8Stream.

// invalidUTF8Field is the field number of the marker; it is the largest
// valid field number, never used by the contract.
const invalidUTF8Field protowire.Number = protowire.MaxValidNumber

// malformedField marks a request that did not decode at all.
const malformedField protowire.Number = protowire.MaxValidNumber - 1

// Codec returns the server codec: grpc-go's proto codec with the UTF-8
// fallback above.
func Codec() encoding.CodecV2 {
	return utf8Codec{base: encoding.GetCodecV2(protocodec.Name)}
}

type utf8Codec struct{ base encoding.CodecV2 }

func (c utf8Codec) Name() string { return c.base.Name() }

func (c utf8Codec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

func (c utf8Codec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.base.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return err
	}
	if !strings.Contains(err.Error(), "invalid UTF-8") || !dropInvalidUTF8(m, data.Materialize()) {
		proto.Reset(m)
		r := m.ProtoReflect()
		r.SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, malformedField, protowire.VarintType), 1))
	}
	return nil
}

// dropInvalidUTF8 decodes raw into m without its fields that are not
// UTF-8, and marks them; false when raw has other problems.
func dropInvalidUTF8(m proto.Message, raw []byte) bool {
	cleaned, bad := withoutInvalidUTF8(m.ProtoReflect().Descriptor(), raw)
	if len(bad) == 0 {
		return false
	}
	proto.Reset(m)
	if err := proto.Unmarshal(cleaned, m); err != nil {
		return false
	}
	var marker []byte
	for _, name := range bad {
		marker = protowire.AppendTag(marker, invalidUTF8Field, protowire.BytesType)
		marker = protowire.AppendString(marker, name)
	}
	r := m.ProtoReflect()
	r.SetUnknown(append(r.GetUnknown(), marker...))
	return true
}

// withoutInvalidUTF8 returns the wire message without its top-level fields
// whose strings are not UTF-8 (directly, or anywhere inside a message
// field), and the names of those fields.
func withoutInvalidUTF8(md protoreflect.MessageDescriptor, raw []byte) ([]byte, []string) {
	var out []byte
	var bad []string
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return nil, nil
		}
		m := protowire.ConsumeFieldValue(num, typ, raw[n:])
		if m < 0 {
			return nil, nil
		}
		field := raw[:n+m]
		raw = raw[n+m:]
		if fd := md.Fields().ByNumber(num); fd != nil && typ == protowire.BytesType && !fieldUTF8OK(fd, field[n:]) {
			if len(bad) == 0 || bad[len(bad)-1] != string(fd.Name()) {
				bad = append(bad, string(fd.Name()))
			}
			continue
		}
		out = append(out, field...)
	}
	return out, bad
}

func fieldUTF8OK(fd protoreflect.FieldDescriptor, value []byte) bool {
	b, n := protowire.ConsumeBytes(value)
	if n < 0 {
		return true // not our problem: let the decoder report it
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		return utf8.Valid(b)
	case protoreflect.MessageKind:
		if fd.IsMap() {
			return true // no request of the contract has a map field
		}
		mt, err := protoregistry.GlobalTypes.FindMessageByName(fd.Message().FullName())
		return err != nil || proto.Unmarshal(b, mt.New().Interface()) == nil
	}
	return true
}

// InvalidUTF8Fields returns the names of the request fields that were
// dropped by Codec for not being UTF-8 (nil for a sound request).
func InvalidUTF8Fields(req any) []string {
	names, _ := undecodable(req)
	return names
}

// undecodable returns the marks Codec left on a request: the fields
// dropped for not being UTF-8, and whether it did not decode at all.
func undecodable(req any) (names []string, malformed bool) {
	m, ok := req.(proto.Message)
	if !ok {
		return nil, false
	}
	unknown := m.ProtoReflect().GetUnknown()
	for len(unknown) > 0 {
		num, typ, n := protowire.ConsumeTag(unknown)
		if n < 0 {
			return names, malformed
		}
		if num == malformedField && typ == protowire.VarintType {
			malformed = true
		}
		if num == invalidUTF8Field && typ == protowire.BytesType {
			v, m := protowire.ConsumeString(unknown[n:])
			if m < 0 {
				return names, malformed
			}
			names = append(names, v)
			unknown = unknown[n+m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, unknown[n:])
		if m < 0 {
			return names, malformed
		}
		unknown = unknown[n+m:]
	}
	return names, malformed
}

// RejectInvalidUTF8 is a unary interceptor answering INVALID_ARGUMENT for a
// request whose string fields were not UTF-8 (TOKEN_NOT_UTF8 for the token
// of ValidateToken), or that was no protobuf encoding of its message.
func RejectInvalidUTF8(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := rejectUndecodable(req); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

// RejectInvalidUTF8Stream does for the messages a stream receives what
// RejectInvalidUTF8 does for unary requests.
func RejectInvalidUTF8Stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, checkedStream{ss})
}

type checkedStream struct{ grpc.ServerStream }

func (s checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return rejectUndecodable(m)
}

func rejectUndecodable(req any) error {
	bad, malformed := undecodable(req)
	switch {
	case malformed:
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT,
			"the request is not a valid protobuf encoding of its message", nil)
	case bad == nil:
		return nil
	}
	if _, ok := req.(*tokendv1.ValidateTokenRequest); ok && bad[0] == "token" {
		return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_TOKEN_NOT_UTF8, "token is not valid UTF-8", field("token"))
	}
	return withInfo(codes.InvalidArgument, tokendv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT,
		fmt.Sprintf("%s: not valid UTF-8", bad[0]), field(bad[0]))
}
