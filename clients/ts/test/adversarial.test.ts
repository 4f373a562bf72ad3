// The adversarial token corpus (testdata/adversarial/corpus.json) through
// the generated TypeScript client: every row must get the same answer here
// as from the Go server test, token.Validator and the Python client. The
// server is the real server package on the seeded fixture with the
// fixture's clock (bin/adversarial-server, built by `make test-ts`).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  createTokendClient,
  InvalidReason,
  tokendErrorInfo,
  ValidateTokenRequestSchema,
  type TokendClient,
  type ValidateTokenRequest,
} from "../src/index.js";
import { startAdversarialServer, type Tokend } from "./server.js";

/** The answer a row wants, or the one a client got (corpus.json's "want"). */
interface Want {
  valid: boolean;
  reason?: string;
  subject?: string;
  key_id?: string;
  error?: { code: string; reason: string };
}

interface Row {
  name: string;
  class: string;
  token?: string;
  token_base64?: string;
  app_id?: string;
  audience?: string;
  want: Want;
}

const corpusDir = process.env.TOKEND_ADVERSARIAL_DIR ?? resolve(process.cwd(), "../../testdata/adversarial");
const corpus = JSON.parse(readFileSync(resolve(corpusDir, "corpus.json"), "utf8")) as { rows: Row[] };

/** The canonical name of a gRPC code: Code.InvalidArgument -> "INVALID_ARGUMENT". */
function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

function describeWant(w: Want): string {
  if (w.error) return `error ${w.error.code}/${w.error.reason}`;
  return w.valid ? "valid" : `invalid ${w.reason}`;
}

function agree(got: Want, want: Want): boolean {
  if (want.error || got.error) {
    return want.error?.code === got.error?.code && want.error?.reason === got.error?.reason;
  }
  if (want.valid) {
    return got.valid && (!want.subject || got.subject === want.subject) && (!want.key_id || got.key_id === want.key_id);
  }
  return !got.valid && got.reason === want.reason;
}

/**
 * request builds the ValidateTokenRequest of a row. A JS string cannot hold
 * a token that is not UTF-8 (protobuf-es would encode U+FFFD), so such a
 * token travels as the raw bytes of field 1 (token), added as an unknown
 * field of an otherwise empty token: the same bytes on the wire.
 */
function request(row: Row): ValidateTokenRequest {
  const req = create(ValidateTokenRequestSchema, { appId: row.app_id ?? "", audience: row.audience ?? "" });
  if (row.token_base64 !== undefined) {
    const raw = Buffer.from(row.token_base64, "base64");
    const data = new BinaryWriter().bytes(raw).finish(); // length-prefixed
    req.$unknown = [{ no: 1, wireType: WireType.LengthDelimited, data }];
  } else {
    req.token = row.token ?? "";
  }
  return req;
}

describe("adversarial corpus (TypeScript client)", () => {
  let server: Tokend;
  let c: TokendClient;

  before(async () => {
    server = await startAdversarialServer(corpusDir);
    c = createTokendClient({ baseUrl: `http://${server.grpcAddr}`, apiKey: server.adminKey });
  });

  after(async () => {
    await server?.stop();
  });

  test("the corpus has rows", () => {
    assert.ok(corpus.rows.length > 50, `only ${corpus.rows.length} rows`);
  });

  for (const row of corpus.rows) {
    test(row.name, async () => {
      let got: Want;
      try {
        const v = await c.tokens.validateToken(request(row));
        got = v.valid
          ? { valid: true, subject: v.claims?.subject, key_id: v.keyId }
          : { valid: false, reason: InvalidReason[v.reason] };
      } catch (err) {
        const info = tokendErrorInfo(err);
        assert.ok(info, `error without a tokend ErrorInfo: ${String(err)}`);
        got = { valid: false, error: { code: codeName(ConnectError.from(err).code), reason: info.reason } };
      }
      assert.ok(agree(got, row.want), `got ${describeWant(got)}, want ${describeWant(row.want)}`);
    });
  }
});
