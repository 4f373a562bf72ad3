// Interop test: the generated TypeScript client against the real tokend
// binary, over gRPC; tokens verified independently with jose from the HTTP
// JWKS. Run with `make test-ts` (builds bin/tokend first).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from "jose";
import {
  createTokendClient,
  ERROR_DOMAIN,
  ErrorReason,
  grpcCode,
  InvalidReason,
  tokendErrorInfo,
  tokendErrorReason,
  type TokendClient,
} from "../src/index.js";
import { startTokend, type Tokend } from "./server.js";

const ttlSeconds = 900n;

/** tamperings of a compact JWS that keep it well-formed but break its signature. */
const tamperings: { name: string; tamper: (jws: string) => string }[] = [
  {
    name: "claims altered",
    tamper: (jws) => {
      const [header, payload, signature] = jws.split(".") as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
      claims.sub = "mallory";
      return [header, Buffer.from(JSON.stringify(claims)).toString("base64url"), signature].join(".");
    },
  },
  {
    name: "signature altered",
    tamper: (jws) => {
      const [header, payload, signature] = jws.split(".") as [string, string, string];
      const sig = Buffer.from(signature, "base64url");
      sig[sig.length >> 1]! ^= 0x01;
      return [header, payload, sig.toString("base64url")].join(".");
    },
  },
];

describe("tokend interop (TypeScript, @connectrpc/connect-node over gRPC)", () => {
  let server: Tokend;
  let c: TokendClient;
  let appId: string;

  before(async () => {
    server = await startTokend();
    c = createTokendClient({ baseUrl: `http://${server.grpcAddr}`, apiKey: server.adminKey });
    const created = await c.apps.createApp({ name: "ts-interop", description: "TypeScript interop test" });
    assert.ok(created.app?.appId, "CreateApp returns an app id");
    assert.match(created.privateKeyPem, /-----BEGIN PRIVATE KEY-----/);
    appId = created.app.appId;
  });

  after(async () => {
    await server?.stop();
  });

  test("IssueToken then ValidateToken: valid, with the issued claims", async () => {
    const issued = await c.tokens.issueToken({
      appId,
      subject: "alice",
      ttl: { seconds: ttlSeconds },
      audience: ["api"],
      claims: { plan: "pro" },
    });
    assert.equal(issued.accessToken.split(".").length, 3, "a compact JWS");
    assert.ok(issued.tokenId && issued.keyId);

    const v = await c.tokens.validateToken({ token: issued.accessToken, audience: "api", appId });
    assert.equal(v.valid, true, `valid (reason ${InvalidReason[v.reason]}: ${v.detail})`);
    assert.equal(v.reason, InvalidReason.UNSPECIFIED);
    assert.equal(v.keyId, issued.keyId);
    assert.equal(v.claims?.subject, "alice");
    assert.equal(v.claims?.appId, appId);
    assert.deepEqual(v.claims?.audience, ["api"]);
    assert.equal(v.claims?.tokenId, issued.tokenId);
    assert.deepEqual(v.claims?.extra, { plan: "pro" });
    const lifetime = v.claims!.expiresAt!.seconds - v.claims!.issuedAt!.seconds;
    assert.equal(lifetime, ttlSeconds);
  });

  for (const { name, tamper } of tamperings) {
    test(`ValidateToken of a tampered token (${name}): valid=false BAD_SIGNATURE, not an error`, async () => {
      const issued = await c.tokens.issueToken({ appId, subject: "alice" });
      const v = await c.tokens.validateToken({ token: tamper(issued.accessToken) });
      assert.equal(v.valid, false);
      assert.equal(InvalidReason[v.reason], InvalidReason[InvalidReason.BAD_SIGNATURE]);
      assert.equal(v.claims, undefined, "no claims for an invalid token");
    });
  }

  test("RefreshToken exchanges a refresh token for new tokens; the old one is then refused", async () => {
    const issued = await c.tokens.issueToken({ appId, subject: "bob", issueRefreshToken: true });
    assert.ok(issued.refreshToken, "IssueToken returns a refresh token");

    const refreshed = await c.tokens.refreshToken({ refreshToken: issued.refreshToken });
    assert.ok(refreshed.accessToken && refreshed.refreshToken);
    assert.notEqual(refreshed.refreshToken, issued.refreshToken, "the refresh token rotates");
    assert.notEqual(refreshed.tokenId, issued.tokenId);
    const v = await c.tokens.validateToken({ token: refreshed.accessToken });
    assert.equal(v.valid, true);
    assert.equal(v.claims?.subject, "bob");

    // Presenting the rotated-out token again is reuse.
    const reuse = await c.tokens.refreshToken({ refreshToken: issued.refreshToken }).then(
      () => assert.fail("reusing a refresh token must fail"),
      (err: unknown) => err,
    );
    assert.equal(Code[grpcCode(reuse)], Code[Code.InvalidArgument]);
    assert.equal(ErrorReason[tokendErrorReason(reuse)], ErrorReason[ErrorReason.REFRESH_TOKEN_REUSED]);
  });

  const errorCases: {
    name: string;
    call: (c: TokendClient, appId: string, server: Tokend) => Promise<unknown>;
    code: Code;
    reason: ErrorReason;
  }[] = [
    {
      name: "IssueToken for an unknown app",
      call: (c) => c.tokens.issueToken({ appId: "app_doesnotexist", subject: "alice" }),
      code: Code.NotFound,
      reason: ErrorReason.APP_NOT_FOUND,
    },
    {
      name: "IssueToken with a TTL under 10 minutes",
      call: (c, appId) => c.tokens.issueToken({ appId, subject: "alice", ttl: { seconds: 60n } }),
      code: Code.InvalidArgument,
      reason: ErrorReason.TTL_OUT_OF_RANGE,
    },
    {
      name: "ValidateToken of an empty token",
      call: (c) => c.tokens.validateToken({ token: "" }),
      code: Code.InvalidArgument,
      reason: ErrorReason.TOKEN_EMPTY,
    },
    {
      name: "a call with an unknown API key",
      call: (_c, appId, server) =>
        createTokendClient({ baseUrl: `http://${server.grpcAddr}`, apiKey: "tkd_not-a-real-key-0000000000" })
          .tokens.issueToken({ appId, subject: "alice" }),
      code: Code.Unauthenticated,
      reason: ErrorReason.CREDENTIALS_INVALID,
    },
  ];

  for (const tc of errorCases) {
    test(`ErrorInfo: ${tc.name} -> ${Code[tc.code]} ${ErrorReason[tc.reason]}`, async () => {
      const err = await tc.call(c, appId, server).then(
        () => assert.fail("the call must fail"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ConnectError, `a ConnectError, got ${String(err)}`);
      assert.equal(Code[err.code], Code[tc.code]);
      const info = tokendErrorInfo(err);
      assert.ok(info, "the error carries a google.rpc.ErrorInfo");
      assert.equal(info.domain, ERROR_DOMAIN);
      assert.equal(info.reason, ErrorReason[tc.reason]);
      assert.equal(tokendErrorReason(err), tc.reason);
    });
  }

  test("jose verifies a tokend token from the HTTP JWKS, and rejects a tampered one", async () => {
    const issued = await c.tokens.issueToken({ appId, subject: "carol", audience: ["api"], ttl: { seconds: ttlSeconds } });
    const v = await c.tokens.validateToken({ token: issued.accessToken });
    assert.equal(v.valid, true);

    const jwks = createRemoteJWKSet(new URL(`http://${server.httpAddr}/v1/apps/${appId}/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(issued.accessToken, jwks, {
      algorithms: ["ES256"],
      audience: "api",
      issuer: v.claims!.issuer,
      typ: "JWT",
    });
    assert.equal(protectedHeader.kid, issued.keyId);
    assert.equal(payload.sub, "carol");
    assert.equal(payload.aid, appId);
    assert.equal(payload.jti, issued.tokenId);
    assert.equal(BigInt(payload.exp! - payload.iat!), ttlSeconds);

    for (const { tamper } of tamperings) {
      await assert.rejects(jwtVerify(tamper(issued.accessToken), jwks, { algorithms: ["ES256"] }), joseErrors.JWSSignatureVerificationFailed);
    }
  });
});
