// ErrorInfo support: every tokend error carries a google.rpc.ErrorInfo detail
// (domain "tokend", reason = an ErrorReason value name without its
// "ERROR_REASON_" prefix) in the grpc-status-details-bin trailer.
//
// googleapis publishes no protobuf-es package on the npm registry, so the
// descriptor of google.rpc.ErrorInfo (google/rpc/error_details.proto) is built
// here from its three fields. It is wire-compatible with the original: same
// full name, field numbers and types.

import { ConnectError, Code } from "@connectrpc/connect";
import { create, createFileRegistry, type Message } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { ErrorReason } from "./gen/tokend/v1/errors_pb.js";

/** The domain of every ErrorInfo that tokend returns. */
export const ERROR_DOMAIN = "tokend";

/** google.rpc.ErrorInfo: why an RPC failed, as a stable machine-readable reason. */
export type ErrorInfo = Message<"google.rpc.ErrorInfo"> & {
  reason: string;
  domain: string;
  metadata: { [key: string]: string };
};

const { OPTIONAL, REPEATED } = FieldDescriptorProto_Label;
const { STRING, MESSAGE } = FieldDescriptorProto_Type;

const errorDetailsFile = create(FileDescriptorProtoSchema, {
  name: "google/rpc/error_details.proto",
  package: "google.rpc",
  syntax: "proto3",
  messageType: [
    {
      name: "ErrorInfo",
      field: [
        { name: "reason", number: 1, label: OPTIONAL, type: STRING, jsonName: "reason" },
        { name: "domain", number: 2, label: OPTIONAL, type: STRING, jsonName: "domain" },
        {
          name: "metadata",
          number: 3,
          label: REPEATED,
          type: MESSAGE,
          typeName: ".google.rpc.ErrorInfo.MetadataEntry",
          jsonName: "metadata",
        },
      ],
      nestedType: [
        {
          name: "MetadataEntry",
          field: [
            { name: "key", number: 1, label: OPTIONAL, type: STRING, jsonName: "key" },
            { name: "value", number: 2, label: OPTIONAL, type: STRING, jsonName: "value" },
          ],
          options: { mapEntry: true },
        },
      ],
    },
  ],
});

/** The schema of google.rpc.ErrorInfo, for ConnectError.findDetails. */
export const ErrorInfoSchema = createFileRegistry(errorDetailsFile, () => undefined).getMessage(
  "google.rpc.ErrorInfo",
) as GenMessage<ErrorInfo>;

/**
 * tokendErrorInfo returns the ErrorInfo of domain "tokend" that an error from
 * a tokend call carries, or undefined when it carries none (for example a
 * transport failure before the server answered).
 */
export function tokendErrorInfo(err: unknown): ErrorInfo | undefined {
  return ConnectError.from(err)
    .findDetails(ErrorInfoSchema)
    .find((info) => info.domain === ERROR_DOMAIN);
}

/**
 * tokendErrorReason returns the ErrorReason of an error from a tokend call,
 * so callers can branch on the generated enum:
 *
 *   if (tokendErrorReason(err) === ErrorReason.APP_NOT_FOUND) { ... }
 *
 * It is ErrorReason.UNSPECIFIED when the error has no tokend ErrorInfo or a
 * reason newer than this client's generated code.
 */
export function tokendErrorReason(err: unknown): ErrorReason {
  const reason = tokendErrorInfo(err)?.reason;
  if (reason === undefined || !(reason in ErrorReason)) {
    return ErrorReason.UNSPECIFIED;
  }
  return ErrorReason[reason as keyof typeof ErrorReason];
}

/** The gRPC code of an error from a tokend call (Code.Unknown for non-RPC errors). */
export function grpcCode(err: unknown): Code {
  return ConnectError.from(err).code;
}
