// The stream-event reader (shared/translate/reader.ts) must take exactly the texts parseJson takes and
// read the same values; the writer (shared/translate/writer.ts) must write what JsonValue.toString,
// jsonQuote and jsonNumber write. Random and hand-made JSON, valid and broken.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadHarness } from "./harness.mjs";

const h: any = await loadHarness();

let seed = 12345;
const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
const pick = <T>(a: readonly T[]): T => a[rnd(a.length)];

const KEYS = ["a", "b", "text", "type", "te\\u0078t", "é", "", "usage", "a\\\"b", "\\ud83d\\ude00"];
const STRINGS = ["", "plain", "é中文😀", "\\\"q\\\" \\\\ \\/", "\\n\\t\\r\\b\\f", "\\u00e9\\u00E9", "\\ud800", "\\udc00x", "\\ud83d\\ude00", "\\u0000"];
const NUMBERS = ["0", "-0", "7", "-12", "123456789012345", "1234567890123456789", "99999999999999999999999", "1.5", "-2.75", "1e3",
  "2E-2", "1e400", "-1e400", "1e-400", "0.1e1", "12.0", "9007199254740993", "-9223372036854775809", "1" + "0".repeat(310)];
const WS = ["", "", "", " ", "\n", "\t", "\r\n "];

function value(depth: number): string {
  const k = rnd(depth > 3 ? 4 : 7);
  const ws = () => pick(WS);
  if (k == 0) return `"${pick(STRINGS)}"`;
  if (k == 1) return pick(NUMBERS);
  if (k == 2) return pick(["true", "false", "null"]);
  if (k == 3) return `"${pick(STRINGS)}${pick(STRINGS)}"`;
  if (k <= 5) {
    const n = rnd(5);
    return "{" + ws() + Array.from({ length: n }, () => `"${pick(KEYS)}"${ws()}:${ws()}${value(depth + 1)}`).join(ws() + "," + ws()) + ws() + "}";
  }
  return "[" + ws() + Array.from({ length: rnd(5) }, () => value(depth + 1)).join(ws() + "," + ws()) + ws() + "]";
}

/** Small damage that may or may not keep the text valid. */
function damage(s: string): string {
  const at = rnd(s.length + 1);
  switch (rnd(6)) {
    case 0: return s.slice(0, at);
    case 1: return s.slice(0, at) + pick(["x", "\"", "\\", ",", "}", "]", "\u0001", "-", "0", "e", " "]) + s.slice(at);
    case 2: return s.slice(0, at) + s.slice(at + 1);
    case 3: return s + pick(["", " ", "x", "{}", "\n"]);
    case 4: return pick(["", " ", "\uFEFF"]) + s;
    default: return s.replace(/\d/, pick(["00", "0x", ".", "-"]));
  }
}

const EDGES = [
  "", " ", "{}", "[]", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{'a':1}", "nul", "tru", "falsey", "True", "01", "-", "1.", ".5", "1e", "1e+",
  "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\u0001\"", "\"tab\there\"", "\"ok\" \"second\"", "[" .repeat(64) + "]".repeat(64),
  "[".repeat(65) + "]".repeat(65), "{\"a\":" + "[".repeat(63) + "{}" + "]".repeat(63) + "}", "{\"a\":" + "[".repeat(64) + "]".repeat(64) + "}",
  "{\"a\":1,\"a\":\"two\"}", "{\"text\":1,\"te\\u0078t\":\"escaped key wins\"}", "[1e400]", "[1e308]", "[-1e309]", "[0.0000000001e-400]",
];

test("JsonText takes exactly what parseJson takes", () => {
  const texts = [...EDGES];
  for (let i = 0; i < 3000; i++) { const v = value(0); texts.push(v, damage(v)); }
  let accepted = 0;
  for (const t of texts) {
    const [reader, parser] = h.accepts(t).split(",");
    assert.equal(reader, parser, `reader ${reader} / parser ${parser} on ${JSON.stringify(t)}`);
    if (parser === "1") accepted++;
  }
  assert.ok(accepted > texts.length / 3 && accepted < texts.length, `a mix of valid and broken texts (${accepted} of ${texts.length} valid)`);
});

test("JsonText reads the values JsonValue reads: last repeated key, escapes, integers, content text", () => {
  let compared = 0;
  for (let i = 0; i < 2000; i++) {
    const t = i < EDGES.length ? EDGES[i] : value(0);
    for (let j = 0; j < 6; j++) {
      const path = Array.from({ length: 1 + rnd(3) }, () => pick([...KEYS.map((k) => JSON.parse(`"${k}"`)), "0", "1", "2", "01"])).join(".");
      const got = h.lookup(t, path);
      if (got === "unparsed") continue;
      const [reader, parser] = got.split("|");
      assert.equal(reader, parser, `${JSON.stringify(path)} in ${t}`);
      compared++;
    }
  }
  assert.ok(compared > 5000);
});

test("JsonWriter writes values, strings and numbers as toString/jsonQuote/jsonNumber do", () => {
  for (let i = 0; i < 2000; i++) {
    const t = value(0);
    assert.equal(h.writerValue(t), h.writerValue(t) === "unparsed" ? "unparsed" : "", t);
  }
  const units = ["a", "\"", "\\", "\n", "\u0000", "\u001f", "\u007f", "é", "中", "\u2028", "\ud83d\ude00", "\ud800", "\udc00", "\uffff"];
  const nums = [0, -0, 1, -1, 0.1, 1 / 3, 1e21, 1e-7, 123456789.125, 2 ** 53, -(2 ** 53) - 2, 5e-324, 1.7976931348623157e308, NaN, Infinity, -Infinity];
  for (let i = 0; i < 2000; i++) {
    const s = Array.from({ length: rnd(12) }, () => pick(units)).join("");
    assert.equal(h.writerScalars(s, pick(nums)), "", JSON.stringify(s));
  }
});
