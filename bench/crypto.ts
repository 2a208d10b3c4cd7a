// SHA-256 and HMAC-SHA256 throughput: shared/crypto.ts (release optimisation, incremental
// runtime) against node:crypto (OpenSSL). For SHA-256 it also times @chainsafe/as-sha256's
// own prebuilt .wasm through its JS API (which copies the input into its memory), the
// package the project considered using. Run alone: node --import tsx bench/crypto.ts
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { digest as chainsafeDigest } from "@chainsafe/as-sha256";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

type Exports = { memory: WebAssembly.Memory; input(n: number): number; run(op: number, arg: number): number } &
  Record<string, WebAssembly.Global>;

function compile(): Exports {
  const out = join(mkdtempSync(join(tmpdir(), "bench-crypto-")), "crypto.wasm");
  // Same optimisation as the asconfig release target; abort stays a plain import here.
  execFileSync("node_modules/.bin/asc", ["tests/crypto/crypto_entry.ts", "--config", "/dev/null", "--runtime", "incremental",
    "--optimizeLevel", "3", "--shrinkLevel", "2", "--converge", "-o", out], { stdio: "inherit", cwd: ROOT });
  const abort = () => { throw new Error("wasm abort"); };
  return new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out)), { env: { abort } }).exports as unknown as Exports;
}

/** MB/s of `fn` hashing `bytes` per call, timed over about `ms` after a warm-up. */
function throughput(bytes: number, fn: () => void, ms = 400): number {
  for (let i = 0; i < 200; i++) fn();
  let calls = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 50; i++) fn();
    calls += 50;
    now = process.hrtime.bigint();
  }
  return (bytes * calls) / (Number(now - start) / 1e9) / 1e6;
}

export async function benchCrypto(): Promise<void> {
  const wasm = compile();
  const op = (name: string) => wasm[`Op.${name}`].value as number;
  const load = (b: Uint8Array) => {
    const p = wasm.input(b.length) >>> 0; // may grow memory: take the buffer afterwards
    new Uint8Array(wasm.memory.buffer, p, b.length).set(b);
  };
  const key = randomBytes(32);
  const rows: { alg: string; size: string; ours: number; node: number; chainsafe?: number }[] = [];

  for (const [size, n] of [["1k", 1024], ["100k", 100 * 1024]] as const) {
    const data = randomBytes(n);
    // Data sits in wasm memory once, as a request body does inside a plugin.
    load(data);
    const sha = op("Sha256");
    rows.push({
      alg: "sha256", size,
      ours: throughput(n, () => wasm.run(sha, 0)),
      node: throughput(n, () => createHash("sha256").update(data).digest()),
      chainsafe: throughput(n, () => chainsafeDigest(data)),
    });
    const withKey = Buffer.concat([key, data]);
    load(withKey);
    const hmacOp = op("Hmac"), arg = 2 /* HashAlg.Sha256 */ | (key.length << 2);
    rows.push({
      alg: "hmac", size,
      ours: throughput(n, () => wasm.run(hmacOp, arg)),
      node: throughput(n, () => createHmac("sha256", key).update(data).digest()),
    });
  }

  const f = (x?: number) => (x === undefined ? "-" : x.toFixed(1)).padStart(12);
  console.log(`${"alg".padEnd(8)}${"size".padEnd(6)}${"ours MB/s".padStart(12)}${"node MB/s".padStart(12)}${"ours/node".padStart(12)}${"chainsafe".padStart(12)}`);
  for (const r of rows) console.log(`${r.alg.padEnd(8)}${r.size.padEnd(6)}${f(r.ours)}${f(r.node)}${f(r.ours / r.node)}${f(r.chainsafe)}`);
  console.log("(ours/node > 1 means ours is faster; chainsafe = @chainsafe/as-sha256 digest() incl. its input copy)");
  for (const r of rows) {
    console.log(`BENCH crypto alg=${r.alg} size=${r.size} ours_mb_s=${r.ours.toFixed(1)} node_mb_s=${r.node.toFixed(1)} ratio=${(r.ours / r.node).toFixed(3)}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchCrypto();
