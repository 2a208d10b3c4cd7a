// Fits the constants of shared/tokens.ts against js-tiktoken's o200k_base.
//   node --import tsx tests/tokens/calibrate.ts          fit WEIGHTS on the calibration samples,
//                                                        print the errors on both sets
//   ... calibrate.ts --write                             also rewrite WEIGHTS in shared/tokens.ts
//   ... calibrate.ts --han-table [--write]               regenerate the HAN_COMMON bitset
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Tiktoken } from "js-tiktoken/lite";
import o200k_base from "js-tiktoken/ranks/o200k_base";
import { samples, sentences, Kind, Sample, SampleSet } from "./samples.ts";
import { loadTokensWasm } from "./wasm.ts";

const source = fileURLToPath(new URL("../../shared/tokens.ts", import.meta.url));
const write = process.argv.includes("--write");
const enc = new Tiktoken(o200k_base);

function replaceBlock(name: string, body: string): void {
  const text = readFileSync(source, "utf8");
  const re = new RegExp(`(// BEGIN ${name}[^\\n]*\\n)[\\s\\S]*?( *// END ${name})`);
  if (!re.test(text)) throw new Error(`no ${name} block in ${source}`);
  writeFileSync(source, text.replace(re, (_, a, b) => a + body + "\n" + b));
  console.log(`rewrote ${name} in ${source}`);
}

// Two bits per ideograph U+4E00+i: 2 if it occurs in an o200k_base token of two or more
// ideographs (cheap in running Chinese text), 1 if it is a token only on its own, 0 if
// byte-level tokens spell it.
function hanTable(): string {
  const codes = new Uint8Array(0xa000 - 0x4e00);
  const han = /\p{Script=Han}/u;
  for (let rank = 0; rank < 200000; rank++) {
    let token: string;
    try { token = enc.decode([rank]); } catch { continue; }
    const chars = [...token];
    const ideographs = chars.filter((ch) => han.test(ch)).map((ch) => ch.codePointAt(0)! - 0x4e00).filter((i) => i >= 0 && i < codes.length);
    if (ideographs.length >= 2) for (const i of ideographs) codes[i] = 2;
    else if (chars.length === 1 && ideographs.length === 1) codes[ideographs[0]] = Math.max(codes[ideographs[0]], 1);
  }
  const bytes = new Uint8Array(codes.length / 4);
  codes.forEach((code, i) => { bytes[i >> 2] |= code << ((i & 3) * 2); });
  const words = new BigUint64Array(bytes.buffer);
  const lines: string[] = [];
  for (let i = 0; i < words.length; i += 4) {
    lines.push("  " + Array.from(words.slice(i, i + 4), (w) => "0x" + w.toString(16).padStart(16, "0") + ",").join(" "));
  }
  return lines.join("\n");
}

interface Point { kind: Kind; name: string; f: number[]; tokens: number }

function points(list: Sample[], wasm: ReturnType<typeof loadTokensWasm>): Point[] {
  return list.map((s) => {
    wasm.setText(s.text);
    return { kind: s.kind, name: s.name, f: wasm.features(), tokens: enc.encode(s.text).length };
  });
}

const predict = (w: number[], f: number[]) => f.reduce((a, x, j) => a + x * w[j], 0);

// Non-negative least squares of the relative error, every kind weighted equally, by
// coordinate descent; then iteratively reweighted towards the mean absolute relative error.
function fit(data: Point[], k: number): number[] {
  const perKind = new Map<Kind, number>();
  for (const d of data) perKind.set(d.kind, (perKind.get(d.kind) ?? 0) + 1);
  const base = data.map((d) => 1 / (perKind.get(d.kind)! * d.tokens * d.tokens));
  let sampleWeight = base;
  const w = new Array(k).fill(0.5);
  for (let round = 0; round < 8; round++) {
    for (let sweep = 0; sweep < 3000; sweep++) {
      for (let j = 0; j < k; j++) {
        let num = 0, den = 0;
        data.forEach((d, i) => {
          if (d.f[j] === 0) return;
          const rest = predict(w, d.f) - w[j] * d.f[j];
          num += sampleWeight[i] * d.f[j] * (d.tokens - rest);
          den += sampleWeight[i] * d.f[j] * d.f[j];
        });
        if (den > 0) w[j] = Math.max(0, num / den);
      }
    }
    sampleWeight = data.map((d, i) => base[i] / Math.max(0.01, Math.abs(predict(w, d.f) - d.tokens) / d.tokens));
  }
  return w;
}

export function errorsByKind(data: { kind: Kind; estimate: number; tokens: number }[]) {
  const out = new Map<Kind, { n: number; mae: number; bias: number; worst: number }>();
  for (const kind of new Set(data.map((d) => d.kind))) {
    const errs = data.filter((d) => d.kind === kind).map((d) => (d.estimate - d.tokens) / d.tokens);
    out.set(kind, {
      n: errs.length,
      mae: errs.reduce((a, e) => a + Math.abs(e), 0) / errs.length,
      bias: errs.reduce((a, e) => a + e, 0) / errs.length,
      worst: errs.reduce((a, e) => (Math.abs(e) > Math.abs(a) ? e : a), 0),
    });
  }
  return out;
}

function main() {
  if (process.argv.includes("--han-table")) {
    const table = hanTable();
    if (write) replaceBlock("HAN_CLASS", table); else console.log(table);
    return;
  }
  const wasm = loadTokensWasm();
  const k = wasm.features().length;
  // Sentences as well as paragraphs, so that short texts fit too and per-character features
  // (CJK punctuation, say) vary independently of each other.
  const w = fit(points([...samples("calibration"), ...sentences("calibration")], wasm), k).map((x) => Math.round(x * 1000) / 1000);
  console.log("weights", JSON.stringify(w));
  for (const set of ["calibration", "heldout"] as const) for (const [what, list] of [["", samples(set)], [" sentences", sentences(set)]] as const) {
    const data = points(list, wasm);
    const errs = errorsByKind(data.map((d) => ({ kind: d.kind, estimate: Math.max(1, Math.round(predict(w, d.f))), tokens: d.tokens })));
    for (const [kind, e] of errs) {
      console.log(`${(set + what).padEnd(21)} ${kind.padEnd(8)} n=${String(e.n).padStart(2)} mae=${(e.mae * 100).toFixed(2)}% ` +
        `bias=${(e.bias * 100).toFixed(2)}% worst=${(e.worst * 100).toFixed(1)}%`);
    }
  }
  if (write) replaceBlock("WEIGHTS", "  " + w.join(", ") + ",");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
