// tokend client for Node: the generated messages and services of proto/
// (src/gen, protoc-gen-es), a gRPC client factory and ErrorInfo helpers.

export { createTokendClient, type TokendClient, type TokendClientOptions } from "./client.js";
export {
  ERROR_DOMAIN,
  ErrorInfoSchema,
  grpcCode,
  tokendErrorInfo,
  tokendErrorReason,
  type ErrorInfo,
} from "./errorinfo.js";
export * from "./gen/tokend/v1/app_pb.js";
export * from "./gen/tokend/v1/caller_pb.js";
export * from "./gen/tokend/v1/errors_pb.js";
export * from "./gen/tokend/v1/token_pb.js";
