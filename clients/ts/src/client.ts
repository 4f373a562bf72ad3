// A tokend client over real gRPC (HTTP/2), built from the protoc-gen-es
// service descriptors with Connect's gRPC transport.

import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AppService } from "./gen/tokend/v1/app_pb.js";
import { CallerService } from "./gen/tokend/v1/caller_pb.js";
import { TokenService } from "./gen/tokend/v1/token_pb.js";

/** Options of createTokendClient. */
export interface TokendClientOptions {
  /** Base URL of the gRPC listener, e.g. "http://127.0.0.1:7443" (plaintext) or "https://tokend:7443". */
  baseUrl: string;
  /** API key of the caller, sent as "authorization: Bearer <key>". */
  apiKey?: string;
  /** Deadline of each call in milliseconds (default 10 s). */
  timeoutMs?: number;
}

/** The three tokend services on one HTTP/2 connection. */
export interface TokendClient {
  tokens: Client<typeof TokenService>;
  apps: Client<typeof AppService>;
  callers: Client<typeof CallerService>;
}

/** createTokendClient connects to tokend with gRPC. */
export function createTokendClient(options: TokendClientOptions): TokendClient {
  const interceptors: Interceptor[] = [];
  const { apiKey } = options;
  if (apiKey !== undefined && apiKey !== "") {
    interceptors.push((next) => async (req) => {
      req.header.set("authorization", `Bearer ${apiKey}`);
      return next(req);
    });
  }
  const transport = createGrpcTransport({
    baseUrl: options.baseUrl,
    interceptors,
    defaultTimeoutMs: options.timeoutMs ?? 10_000,
  });
  return {
    tokens: createClient(TokenService, transport),
    apps: createClient(AppService, transport),
    callers: createClient(CallerService, transport),
  };
}
