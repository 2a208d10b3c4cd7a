// The host's own cost per request: a route with no plugin against the same route with the
// empty plugin (tests/plugins/empty: default contexts, every callback a no-op), for a GET and a
// POST with a 1 KB body, through an in-process upstream (no sockets) so only host work is measured.
// Run alone: node --import tsx bench/host.ts
import { execFileSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { Host, type RequestInit } from "../host/index.ts";

/** µs per request: the best of several rounds of sequential requests (least disturbed by other work). */
async function sequentialUs(host: Host, req: RequestInit, n = 2000, rounds = 5): Promise<number> {
  for (let i = 0; i < 300; i++) await host.request(req);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await host.request(req);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e3 / n);
  }
  return best;
}

/** Requests per second with `inFlight` requests outstanding at all times, for about `ms`. */
async function throughput(host: Host, req: RequestInit, inFlight = 64, ms = 800): Promise<number> {
  let done = 0;
  const end = Date.now() + ms;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (Date.now() < end) {
      await host.request(req);
      done++;
    }
  }));
  return done / (Number(process.hrtime.bigint() - t0) / 1e9);
}

export async function benchHost(): Promise<void> {
  execFileSync("node", ["scripts/build.mjs", "empty"], { stdio: "pipe" });
  const host = new Host({ clusters: { up: { handler: () => ({ status: 200, headers: { "content-type": "text/plain" }, body: "ok" }) } } });
  await host.addPlugin({ name: "empty", wasm: "dist/empty.wasm" });
  host.addRoute({ name: "plain", match: { prefix: "/plain" }, cluster: "up", plugins: [] });
  host.addRoute({ name: "wasm", match: { prefix: "/wasm" }, cluster: "up", plugins: ["empty"] });
  const body = "x".repeat(1024);
  const cases = [
    { name: "GET", req: (p: string): RequestInit => ({ path: p }) },
    { name: "POST 1KB", req: (p: string): RequestInit => ({ method: "POST", path: p, body }) },
  ];
  const rows = [];
  for (const c of cases) {
    const baseUs = await sequentialUs(host, c.req("/plain"));
    const wasmUs = await sequentialUs(host, c.req("/wasm"));
    const baseRps = await throughput(host, c.req("/plain"));
    const wasmRps = await throughput(host, c.req("/wasm"));
    rows.push({ name: c.name, baseUs, wasmUs, baseRps, wasmRps });
  }
  host.close();
  const h = (s: string, w = 14) => s.padStart(w);
  const f = (x: number, d = 1, w = 14) => x.toFixed(d).padStart(w);
  console.log(`${"request".padEnd(10)}${h("no plugin µs")}${h("empty µs")}${h("ratio", 8)}${h("no plugin rps")}${h("empty rps")}${h("ratio", 8)}`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(10)}${f(r.baseUs)}${f(r.wasmUs)}${f(r.wasmUs / r.baseUs, 2, 8)}${f(r.baseRps, 0)}${f(r.wasmRps, 0)}${f(r.wasmRps / r.baseRps, 2, 8)}`);
  }
  console.log("(µs per request: best of 5 rounds of 2000 sequential requests; rps: 64 requests in flight for 0.8 s;\n" +
    " in-process upstream answering on the next event-loop turn; ratio = empty plugin / no plugin)");
  const get = rows[0];
  const post = rows[1];
  console.log(`BENCH host empty_plugin_us=${get.wasmUs.toFixed(1)} baseline_us=${get.baseUs.toFixed(1)} ` +
    `overhead_us=${(get.wasmUs - get.baseUs).toFixed(1)} post_empty_plugin_us=${post.wasmUs.toFixed(1)} post_baseline_us=${post.baseUs.toFixed(1)} ` +
    `empty_plugin_rps=${get.wasmRps.toFixed(0)} baseline_rps=${get.baseRps.toFixed(0)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchHost();
