// Test-only module for tests/crypto/crypto.test.ts: exposes shared/crypto.ts over raw
// memory. JS writes the input into the buffer `input(n)` returns, calls `run(op, arg)`,
// and reads `run`'s result length (-1 = null) bytes from `output()`.
import {
  HashAlg, Hasher, md5, sha1, sha256, hmac, base64Encode, base64Decode, hexEncode,
  constantTimeEqual, constantTimeEqualString,
} from "../../shared/crypto";

let inBuf = new Uint8Array(0);
let outBuf = new Uint8Array(0);

export function input(n: i32): usize {
  inBuf = new Uint8Array(n);
  return inBuf.dataStart;
}
export function output(): usize { return outBuf.dataStart; }

function ascii(s: string): Uint8Array { return Uint8Array.wrap(String.UTF8.encode(s)); }
function text(b: Uint8Array): string { return String.UTF8.decode(b.slice().buffer); }
function flag(v: bool): Uint8Array { const r = new Uint8Array(1); r[0] = v ? 1 : 0; return r; }

export const enum Op {
  Md5 = 0, Sha1 = 1, Sha256 = 2,                 // one-shot on bytes
  Stream = 3,                                    // arg = alg | chunk << 2
  Hmac = 4,                                      // arg = alg | keyLen << 2; input = key ++ msg
  HashText = 5,                                  // arg = alg; input is UTF-8 text hashed via the string overload
  B64Encode = 6, B64Decode = 7, B64DecodeLoose = 8,
  Hex = 9, HexUpper = 10,
  CtEqual = 11, CtEqualString = 12,              // arg = length of the first part
}

export function run(op: Op, arg: i32): i32 {
  const b = inBuf;
  const alg = <HashAlg>(arg & 3);
  const rest = arg >> 2;
  let out: Uint8Array | null = null;
  switch (op) {
    case Op.Md5: out = md5(b); break;
    case Op.Sha1: out = sha1(b); break;
    case Op.Sha256: out = sha256(b.buffer); break;
    case Op.Stream: {
      const h = new Hasher(alg);
      for (let i = 0; i < b.length; i += rest) h.update(b.subarray(i, min(i + rest, b.length)));
      out = h.digest();
      break;
    }
    case Op.Hmac: out = hmac(alg, b.subarray(0, rest), b.subarray(rest)); break;
    case Op.HashText: out = new Hasher(alg).update(text(b)).digest(); break;
    case Op.B64Encode: out = ascii(base64Encode(b)); break;
    case Op.B64Decode: out = base64Decode(text(b)); break;
    case Op.B64DecodeLoose: out = base64Decode(text(b), true); break;
    case Op.Hex: out = ascii(hexEncode(b)); break;
    case Op.HexUpper: out = ascii(hexEncode(b, true)); break;
    case Op.CtEqual: out = flag(constantTimeEqual(b.subarray(0, arg), b.subarray(arg))); break;
    case Op.CtEqualString: out = flag(constantTimeEqualString(text(b.subarray(0, arg)), text(b.subarray(arg)))); break;
  }
  if (out == null) return -1;
  outBuf = out;
  return out.length;
}
