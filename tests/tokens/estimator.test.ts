// shared/tokens.ts against js-tiktoken's o200k_base on the held-out samples, plus the
// estimator's own contracts (streaming equals whole, any code units are safe).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Tiktoken } from "js-tiktoken/lite";
import o200k_base from "js-tiktoken/ranks/o200k_base";
import { samples, Kind } from "./samples.ts";
import { loadTokensWasm, TokensWasm } from "./wasm.ts";

const enc = new Tiktoken(o200k_base);
let wasm: TokensWasm;
before(() => { wasm = loadTokensWasm(); });

const estimate = (text: string) => { wasm.setText(text); return wasm.estimate(); };

for (const kind of ["english", "chinese", "code"] as Kind[]) {
  test(`held-out ${kind}: mean absolute error under 10% of o200k_base`, () => {
    const list = samples("heldout").filter((s) => s.kind === kind);
    assert.ok(list.length >= 10, `${list.length} samples`);
    const errors = list.map((s) => Math.abs(estimate(s.text) - enc.encode(s.text).length) / enc.encode(s.text).length);
    const mae = errors.reduce((a, e) => a + e, 0) / errors.length;
    assert.ok(mae < 0.1, `mae ${(mae * 100).toFixed(2)}%`);
  });
}

test("empty text is 0 tokens, any other text at least 1", () => {
  assert.equal(estimate(""), 0);
  for (const t of [" ", "a", "\n", "。", "\u{1F600}", "\udc00"]) assert.ok(estimate(t) >= 1, JSON.stringify(t));
});

test("twice the text is about twice the tokens", () => {
  for (const s of samples("heldout").slice(0, 40)) {
    const one = estimate(s.text);
    const two = estimate(s.text + "\n" + s.text);
    assert.ok(Math.abs(two - 2 * one) <= 2 + one * 0.02, `${s.name}: ${one} then ${two}`);
  }
});

// Adding in pieces must give exactly the whole-text estimate: the stream tracker relies on it.
test("estimating a text in random pieces equals estimating it whole", () => {
  let seed = 7;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (const s of samples("heldout")) {
    const pieces: string[] = [];
    for (let i = 0; i < s.text.length;) { const n = 1 + rand(12); pieces.push(s.text.slice(i, i + n)); i += n; }
    assert.equal(wasm.estimatePieces(pieces), estimate(s.text), s.name);
  }
});

test("arbitrary UTF-16 code units (lone surrogates, controls, private use) never trap", () => {
  let seed = 11;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let round = 0; round < 300; round++) {
    const units = Array.from({ length: rand(400) }, () => rand(0x10000));
    const text = String.fromCharCode(...units);
    const n = estimate(text);
    assert.ok(n >= 0 && n <= units.length * 4, `${n} tokens for ${units.length} units`);
  }
});
