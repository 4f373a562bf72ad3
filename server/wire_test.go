package server_test

import (
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// wireCodec sends pre-encoded request bytes as they are, so that a test can
// put on the wire what the generated Go stubs refuse to encode (strings
// that are not UTF-8) or any bytes at all (fuzzing); answers decode as
// usual.
type wireCodec struct{}

func (wireCodec) Name() string { return "proto" }

func (wireCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}
