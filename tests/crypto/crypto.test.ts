// Checks shared/crypto.ts against node:crypto and Buffer on random inputs.
// Compiles tests/crypto/crypto_entry.ts (release optimisation, incremental runtime) and
// drives it through raw memory. Set CRYPTO_SEED to replay a failing run.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash, createHmac } from "node:crypto";
import { rng } from "../../e2e/sim/text.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const seed = Number(process.env.CRYPTO_SEED ?? Math.floor(Math.random() * 2 ** 31));
const rand = rng(seed); // mulberry32
const randInt = (n: number) => Math.floor(rand() * n);
function randBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = randInt(256);
  return b;
}
// Lengths around block boundaries first, then random lengths up to 5000.
const EDGE = [0, 1, 2, 3, 55, 56, 57, 63, 64, 65, 111, 112, 119, 120, 127, 128, 129, 191, 192];
const lengths = (count: number) => [...EDGE, ...Array.from({ length: count }, () => randInt(5001))];

type Exports = { memory: WebAssembly.Memory; input(n: number): number; output(): number; run(op: number, arg: number): number } &
  Record<string, WebAssembly.Global>;
let wasm: Exports;
const op = (name: string) => wasm[`Op.${name}`].value as number;

function call(name: string, data: Uint8Array, arg = 0): Buffer | null {
  const p = wasm.input(data.length) >>> 0;
  new Uint8Array(wasm.memory.buffer, p, data.length).set(data);
  const n = wasm.run(op(name), arg);
  if (n < 0) return null;
  return Buffer.from(new Uint8Array(wasm.memory.buffer, wasm.output() >>> 0, n));
}
const msg = (what: string, input: Uint8Array | string) =>
  `${what} (seed ${seed}, input ${typeof input === "string" ? JSON.stringify(input) : Buffer.from(input).toString("hex").slice(0, 200)})`;

const ALGS = [["Md5", "md5", 0], ["Sha1", "sha1", 1], ["Sha256", "sha256", 2]] as const;

before(() => {
  const dir = mkdtempSync(join(tmpdir(), "crypto-test-"));
  const out = join(dir, "crypto.wasm");
  // --config /dev/null: the project asconfig routes abort to proxy_log; here abort must throw.
  execFileSync("node_modules/.bin/asc", ["tests/crypto/crypto_entry.ts", "--config", "/dev/null", "--runtime", "incremental",
    "--optimizeLevel", "3", "--shrinkLevel", "2", "-o", out], { stdio: "inherit", cwd: ROOT });
  const abort = () => { throw new Error("wasm abort"); };
  wasm = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out)), { env: { abort } }).exports as unknown as Exports;
});

for (const [name, nodeName] of ALGS) {
  test(`${name} matches node:crypto on 1000+ random inputs`, () => {
    for (const n of lengths(1000)) {
      const data = randBytes(n);
      assert.equal(call(name, data)?.toString("hex"), createHash(nodeName).update(data).digest("hex"), msg(name, data));
    }
  });
}

test("streaming Hasher with random chunk sizes matches node:crypto", () => {
  for (const n of lengths(1000)) {
    const [, nodeName, alg] = ALGS[randInt(3)];
    const chunk = 1 + randInt(rand() < 0.5 ? 70 : 2000);
    const data = randBytes(n);
    assert.equal(call("Stream", data, alg | (chunk << 2))?.toString("hex"), createHash(nodeName).update(data).digest("hex"),
      msg(`${nodeName} in chunks of ${chunk}`, data));
  }
});

test("hashing a string hashes its UTF-8 bytes", () => {
  const pieces = ["a", "é", "\u00ff", "中文", "😀", "\u0000", " ", "z", "\u{10ffff}", "\u0800"];
  for (let i = 0; i < 1000; i++) {
    let s = "";
    for (let k = randInt(200); k > 0; k--) s += pieces[randInt(pieces.length)];
    const [, nodeName, alg] = ALGS[randInt(3)];
    assert.equal(call("HashText", Buffer.from(s, "utf8"), alg)?.toString("hex"), createHash(nodeName).update(s, "utf8").digest("hex"),
      msg(nodeName, s));
  }
});

for (const [, nodeName, alg] of ALGS) {
  test(`HMAC-${nodeName} matches node:crypto (keys 0..200 bytes, incl. 63/64/65)`, () => {
    const keyLens = [0, 1, 63, 64, 65, 128, 200];
    for (const n of lengths(1000)) {
      const key = randBytes(keyLens[randInt(keyLens.length + 3)] ?? randInt(201)); // sometimes a random length
      const data = randBytes(n);
      assert.equal(call("Hmac", Buffer.concat([key, data]), alg | (key.length << 2))?.toString("hex"),
        createHmac(nodeName, key).update(data).digest("hex"), msg(`hmac ${nodeName} key ${key.toString("hex")}`, data));
    }
  });
}

test("hex and base64 encoding match Buffer; decoding round-trips", () => {
  for (const n of lengths(1000)) {
    const data = randBytes(n);
    assert.equal(call("Hex", data)?.toString(), data.toString("hex"), msg("hex", data));
    assert.equal(call("HexUpper", data)?.toString(), data.toString("hex").toUpperCase(), msg("HEX", data));
    const b64 = data.toString("base64");
    assert.equal(call("B64Encode", data)?.toString(), b64, msg("base64", data));
    assert.deepEqual(call("B64Decode", Buffer.from(b64)), data, msg("base64 decode", b64));
    const unpadded = b64.replace(/=+$/, "");
    assert.deepEqual(call("B64DecodeLoose", Buffer.from(unpadded)), data, msg("unpadded decode (loose)", unpadded));
    assert.deepEqual(call("B64DecodeLoose", Buffer.from(b64)), data, msg("padded decode (loose)", b64));
    const strict = call("B64Decode", Buffer.from(unpadded));
    if (unpadded === b64) assert.deepEqual(strict, data, msg("strict decode of unpadded-by-nature text", b64));
    else assert.equal(strict, null, msg("strict decode must refuse missing padding", unpadded));
  }
});

// Independent oracle for the strict decoder: the RFC 4648 alphabet with correct padding,
// and canonical (Buffer re-encodes the decoded bytes to the very same text).
function strictValid(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s) && Buffer.from(s, "base64").toString("base64") === s;
}

test("base64Decode rejects invalid text exactly where a strict RFC 4648 check does", () => {
  const junk = ["=", "-", "_", " ", "\n", "*", "é", "\u0000", "A", "/", "+", "==", "\u2028"];
  let rejected = 0;
  for (let i = 0; i < 3000; i++) {
    let s = randBytes(randInt(40)).toString("base64");
    switch (randInt(5)) {
      case 0: { const k = randInt(s.length + 1); s = s.slice(0, k) + junk[randInt(junk.length)] + s.slice(k); break; }
      case 1: { const k = randInt(s.length); s = s.slice(0, k) + s.slice(k + 1); break; }
      case 2: { // flip the last data character (may set unused low bits)
        const m = s.replace(/=+$/, "");
        if (m.length) s = m.slice(0, -1) + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[randInt(64)] + s.slice(m.length);
        break;
      }
      case 3: s = s.replace(/=/g, "") + "=".repeat(randInt(4)); break;
      default: break; // untouched: must decode
    }
    const expected = strictValid(s);
    const got = call("B64Decode", Buffer.from(s, "utf8"));
    if (expected) assert.deepEqual(got, Buffer.from(s, "base64"), msg("valid base64 refused", s));
    else { assert.equal(got, null, msg("invalid base64 accepted", s)); rejected++; }
  }
  assert.ok(rejected > 500, `only ${rejected} invalid samples generated`);
});

test("constantTimeEqual agrees with Buffer.equals, including prefixes and length mismatches", () => {
  for (let i = 0; i < 1000; i++) {
    const a = randBytes(randInt(80));
    let b: Buffer;
    switch (randInt(4)) {
      case 0: b = Buffer.from(a); break;
      case 1: b = a.subarray(0, randInt(a.length + 1)); break;                 // prefix
      case 2: b = Buffer.from(a); if (b.length) b[randInt(b.length)] ^= 1 << randInt(8); break;
      default: b = Buffer.concat([a, randBytes(1 + randInt(3))]); break;    // longer
    }
    const [x, y] = rand() < 0.5 ? [a, b] : [b, a];
    assert.equal(call("CtEqual", Buffer.concat([x, y]), x.length)?.[0], x.equals(y) ? 1 : 0, msg("bytes", x));
    const sx = x.toString("hex"), sy = y.toString("hex");
    assert.equal(call("CtEqualString", Buffer.from(sx + sy), sx.length)?.[0], sx === sy ? 1 : 0, msg("strings", sx));
  }
});
