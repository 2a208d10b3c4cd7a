// Token estimator (shared/tokens.ts, release optimisation, incremental runtime) against
// js-tiktoken's o200k_base encode on the held-out samples of tests/fixtures/tokens/: speed
// in MB/s of UTF-8 text, and the estimate's error per sample (mean absolute, worst, mean
// signed). The text sits in wasm memory once, as a body does inside a plugin.
// Run alone: node --import tsx bench/tokens.ts
import { pathToFileURL } from "node:url";
import { Tiktoken } from "js-tiktoken/lite";
import o200k_base from "js-tiktoken/ranks/o200k_base";
import { samples, Kind } from "../tests/tokens/samples.ts";
import { loadTokensWasm } from "../tests/tokens/wasm.ts";

/**
 * MB/s of `fn` over `bytes` per call: the fastest of the calls made in about `ms` after a
 * warm-up (the fastest call is the one least disturbed by other work on a shared machine).
 */
function throughput(bytes: number, fn: () => void, ms = 600): number {
  for (let i = 0; i < 3; i++) fn();
  let best = Infinity;
  const end = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  for (let calls = 0; calls < 3 || process.hrtime.bigint() < end; calls++) {
    const start = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start));
  }
  return bytes / (best / 1e9) / 1e6;
}

export async function benchTokens(): Promise<void> {
  const wasm = loadTokensWasm();
  const enc = new Tiktoken(o200k_base);
  const rows = [];
  for (const kind of ["english", "chinese", "code"] as Kind[]) {
    const list = samples("heldout").filter((s) => s.kind === kind);
    const errors = list.map((s) => {
      wasm.setText(s.text);
      const reference = enc.encode(s.text).length;
      return (wasm.estimate() - reference) / reference;
    });
    const all = list.map((s) => s.text).join("\n\n");
    const bytes = Buffer.byteLength(all, "utf8");
    wasm.setText(all);
    const repeat = Math.max(1, Math.floor(100_000 / bytes));
    const ours = throughput(bytes * repeat, () => wasm.estimateRepeat(repeat));
    const tiktoken = throughput(bytes, () => enc.encode(all));
    rows.push({
      kind, n: list.length, kb: bytes / 1024, ours, tiktoken,
      mae: (100 * errors.reduce((a, e) => a + Math.abs(e), 0)) / errors.length,
      worst: 100 * errors.reduce((a, e) => (Math.abs(e) > Math.abs(a) ? e : a), 0),
      bias: (100 * errors.reduce((a, e) => a + e, 0)) / errors.length,
    });
  }
  const h = (s: string, w = 12) => s.padStart(w);
  const f = (x: number, d = 1, w = 12) => x.toFixed(d).padStart(w);
  console.log(`${"kind".padEnd(9)}${h("samples", 8)}${h("KB", 8)}${h("ours MB/s")}${h("tiktoken MB/s", 15)}${h("speed ratio")}${h("mae %", 8)}${h("worst %", 9)}${h("bias %", 8)}`);
  for (const r of rows) {
    console.log(`${r.kind.padEnd(9)}${h(String(r.n), 8)}${f(r.kb, 1, 8)}${f(r.ours)}${f(r.tiktoken, 1, 15)}${f(r.ours / r.tiktoken)}${f(r.mae, 2, 8)}${f(r.worst, 1, 9)}${f(r.bias, 2, 8)}`);
  }
  console.log("(MB of UTF-8 text per second, fastest of repeated runs; speed ratio = ours / js-tiktoken encode;\n" +
    " errors are per held-out sample against o200k_base: estimate / reference - 1)");
  for (const r of rows) {
    console.log(`BENCH tokens kind=${r.kind} mae_pct=${r.mae.toFixed(2)} worst_pct=${r.worst.toFixed(1)} ` +
      `ours_mb_s=${r.ours.toFixed(1)} tiktoken_mb_s=${r.tiktoken.toFixed(2)} speed_ratio=${(r.ours / r.tiktoken).toFixed(1)}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchTokens();
