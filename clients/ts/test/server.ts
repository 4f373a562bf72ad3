// Starts the real tokend binary on 127.0.0.1 with free ports, an admin key
// and a temporary data dir, for the interop tests.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

/** A running tokend. */
export interface Tokend {
  /** gRPC listener, host:port. */
  grpcAddr: string;
  /** HTTP listener (JWKS, health), host:port. */
  httpAddr: string;
  /** API key of the bootstrap admin caller. */
  adminKey: string;
  /** Stops the server and removes its data dir. */
  stop(): Promise<void>;
}

const startTimeoutMs = 20_000;

/** The binary under test: $TOKEND_BIN, or bin/tokend at the repository root. */
function tokendBinary(): string {
  const bin = process.env.TOKEND_BIN ?? resolve(process.cwd(), "../../bin/tokend");
  if (!existsSync(bin)) {
    throw new Error(`tokend binary not found at ${bin}: run "make build" (or set TOKEND_BIN)`);
  }
  return bin;
}

/** startTokend runs `tokend serve` and waits for its "tokend serving" log line. */
export async function startTokend(): Promise<Tokend> {
  return serve("tokend", tokendBinary(), ["serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"], "tokend-ts-");
}

/**
 * startAdversarialServer runs the adversarial-corpus fixture server
 * (server/servertest/adversarial/cmd/adversarial-server: the real server
 * package on a data dir seeded with testdata/adversarial/fixture.json, its
 * clock at the fixture's "now"): $ADVERSARIAL_SERVER_BIN, or
 * bin/adversarial-server at the repository root ("make test-ts" builds it).
 */
export async function startAdversarialServer(corpusDir: string): Promise<Tokend> {
  const bin = process.env.ADVERSARIAL_SERVER_BIN ?? resolve(process.cwd(), "../../bin/adversarial-server");
  if (!existsSync(bin)) {
    throw new Error(`adversarial-server not found at ${bin}: run "make adversarial-server" (or set ADVERSARIAL_SERVER_BIN)`);
  }
  return serve("adversarial-server", bin, ["--corpus", corpusDir], "tokend-ts-adv-");
}

/**
 * serve runs bin with args, a fresh data dir (--data-dir) and a random admin
 * key, and waits for its "tokend serving" log line.
 */
async function serve(name: string, bin: string, args: string[], dirPrefix: string): Promise<Tokend> {
  const dataDir = await mkdtemp(join(tmpdir(), dirPrefix));
  const adminKey = `tkd_${randomBytes(24).toString("hex")}`;
  // The server must not pick up a developer's own TOKEND_* settings.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("TOKEND_")) env[k] = v;
  }
  env.TOKEND_ADMIN_KEY = adminKey;
  const child = spawn(bin, [...args, "--data-dir", dataDir], { env, stdio: ["ignore", "ignore", "pipe"] });
  const stderr: string[] = [];
  const cleanup = async () => {
    await stopChild(child);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const { grpc, http } = await waitServing(child, stderr);
    return { grpcAddr: grpc, httpAddr: http, adminKey, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw new Error(`${name} did not start: ${String(err)}\n${stderr.join("\n")}`);
  }
}

function waitServing(child: ChildProcess, stderr: string[]): Promise<{ grpc: string; http: string }> {
  return new Promise((resolveAddrs, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "tokend serving" line within ${startTimeoutMs} ms`)), startTimeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with code ${code}`));
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const lines = createInterface({ input: child.stderr! });
    lines.on("line", (line) => {
      stderr.push(line);
      let entry: { msg?: string; grpc?: string; http?: string };
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (entry.msg === "tokend serving" && entry.grpc && entry.http) {
        clearTimeout(timer);
        resolveAddrs({ grpc: entry.grpc, http: entry.http });
      }
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}
