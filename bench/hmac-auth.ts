// hmac-auth cost per request, beside the cost of verifying the same request in plain TypeScript
// with node:crypto, in the same run.
// - ours: µs per request spent running hmac-auth's own code: the time inside its callbacks
//   (proxy_on_request_headers/_body/…) minus the time the host spends serving its host calls.
//   Decoding headers, copying the body in, hashing and the nonce update are all ours.
// - host calls: the TypeScript host's time serving those calls (encoding the header map, copying
//   the body, shared data, setting X-Mse-Consumer). Envoy does this in C++; here it is JavaScript
//   and costs more than the plugin itself, so it is shown apart.
// - gateway: CPU µs per request through the host with hmac-auth minus without any plugin (all of
//   the above plus the host's per-plugin stream bookkeeping and body buffering), for context.
// - node: the same checks in TypeScript on already-parsed headers and body: key lookup, date window,
//   string to sign, HMAC-SHA256, constant-time compare, Content-MD5, nonce set (or, for an API key,
//   a SHA-256 digest lookup), run right after each request went through the host, as the plugin
//   runs (caches as cold as the plugin's). "node hot" runs it alone in a tight loop: its best case.
// Cases: a Dify-style signed POST with Content-MD5 over a 1 KB and a 100 KB JSON body, and an
// API-key POST with a 1 KB body. Every request carries a fresh nonce (replays are refused).
// Times are medians per request, so requests preempted on a busy machine do not count.
// Run alone: node --import tsx bench/hmac-auth.ts
import { execFileSync } from "node:child_process";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { pathToFileURL } from "node:url";
import { Host, type RequestInit } from "../host/index.ts";
import { PluginVm } from "../host/vm.ts";
import { sign } from "../tests/hmac-auth/signer.ts";

const KEY = "ak-bench";
const SECRET = "sk-bench-0123456789abcdef";
const API_KEY = "sk-app-0123456789abcdef";
const N = 2000;
const ROUNDS = 5;

interface Req { method: string; path: string; headers: Record<string, string>; body: Buffer }

function signedRequests(path: string, body: Buffer, n: number): Req[] {
  return Array.from({ length: n }, () => {
    const s = sign({ method: "POST", path, key: KEY, secret: SECRET, body, contentMd5: true,
      headers: { "content-type": "application/json", accept: "*/*" } });
    return { method: "POST", path, headers: s.headers, body };
  });
}

function apiKeyRequests(path: string, body: Buffer, n: number): Req[] {
  return Array.from({ length: n }, () => ({ method: "POST", path, headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` }, body }));
}

// ---------------------------------------------------------------- the plain TypeScript verifier

const FIXED = ["accept", "content-md5", "content-type", "date"];
const SECRETS = new Map([[KEY, Buffer.from(SECRET)]]);
const API_DIGESTS = new Map([[createHash("sha256").update(API_KEY).digest("hex"), "app"]]);

function verifyNode(req: Req, nonces: Set<string>, now: number): string | null {
  const h = req.headers;
  if (!("x-ca-key" in h)) {
    const auth = h["authorization"] ?? "";
    const key = auth.toLowerCase().startsWith("bearer ") ? auth.slice(7).trim() : auth.trim();
    return API_DIGESTS.get(createHash("sha256").update(key).digest("hex")) ?? null;
  }
  const secret = SECRETS.get(h["x-ca-key"]);
  const given = h["x-ca-signature"] ?? "";
  if (!secret || given === "") return null;
  const t = Date.parse(h["date"] ?? "");
  if (!(Math.abs(t - now) <= 900_000)) return null;
  const signed = (h["x-ca-signature-headers"] ?? "").split(",").map((x) => x.toLowerCase())
    .filter((x) => x && !FIXED.includes(x) && x !== "x-ca-signature" && x !== "x-ca-signature-headers").sort();
  const nonce = h["x-ca-nonce"] ?? "";
  if (!nonce || !signed.includes("x-ca-nonce")) return null;
  let sts = `${req.method}\n`;
  for (const f of FIXED) sts += `${h[f] ?? ""}\n`;
  for (const n of signed) sts += `${n}:${h[n] ?? ""}\n`;
  sts += req.path;   // no query, no form in these cases
  const mine = createHmac(h["x-ca-signature-method"] === "HmacSHA1" ? "sha1" : "sha256", secret).update(sts).digest();
  const theirs = Buffer.from(given, "base64");
  if (mine.length !== theirs.length || !timingSafeEqual(mine, theirs)) return null;
  const md5 = h["content-md5"];
  if (md5 !== undefined && createHash("md5").update(req.body).digest("base64") !== md5) return null;
  const id = `${h["x-ca-key"]}\n${nonce}`;
  if (nonces.has(id)) return null;
  nonces.add(id);
  return "bench";
}

// ---------------------------------------------------------------- timing

// Timers around the host's calls into hmac-auth's VM (outermost only) and around the host
// functions those calls use. Both hooks wrap host/vm.ts internals, for this measurement only.
let pluginNs = 0n;
let hostNs = 0n;
let depth = 0;
const vmCall = PluginVm.prototype.call;
PluginVm.prototype.call = function (this: PluginVm, name: string, ...rest: unknown[]) {
  if (this.plugin.name !== "hmac-auth" || depth > 0) return (vmCall as Function).call(this, name, ...rest);
  depth++;
  const t0 = process.hrtime.bigint();
  try { return (vmCall as Function).call(this, name, ...rest); } finally { pluginNs += process.hrtime.bigint() - t0; depth--; }
} as typeof vmCall;
const vmImports = (PluginVm.prototype as unknown as { imports: (...a: unknown[]) => Record<string, Record<string, unknown>> }).imports;
(PluginVm.prototype as unknown as { imports: typeof vmImports }).imports = function (this: PluginVm, ...a: unknown[]) {
  const imports = vmImports.apply(this, a);
  for (const mod of Object.values(imports)) {
    for (const [name, fn] of Object.entries(mod)) {
      if (typeof fn !== "function") continue;
      mod[name] = (...args: unknown[]) => {
        if (depth === 0) return fn(...args);
        const t0 = process.hrtime.bigint();
        try { return fn(...args); } finally { hostNs += process.hrtime.bigint() - t0; }
      };
    }
  }
  return imports;
};

const cpuUs = (since: NodeJS.CpuUsage) => { const c = process.cpuUsage(since); return c.user + c.system; };

interface Timing { plugin: number; hostCalls: number; node: number; cpu: number }

const median = (xs: number[]) => { const a = [...xs].sort((x, y) => x - y); return a[a.length >> 1]; };

/**
 * Sends each request through the host, then verifies the same request with the TypeScript
 * verifier, so both run under the same conditions and are timed with the same clock. Medians
 * over all requests (the machine may be busy: a median ignores the requests that were preempted):
 * µs of hmac-auth's own code, of its host calls, of the verifier, and CPU µs of the whole request.
 */
async function measure(host: Host, make: () => Req[]): Promise<Timing> {
  const send = (r: Req) => host.request({ method: r.method, path: r.path, headers: r.headers, body: r.body } as RequestInit);
  for (const r of make().slice(0, 500)) await send(r);
  const plugin: number[] = [], hostCalls: number[] = [], node: number[] = [], cpu: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const reqs = make();   // signed before the clocks start
    const nonces = new Set<string>();
    for (const r of reqs) {
      pluginNs = 0n;
      hostNs = 0n;
      const c0 = process.cpuUsage();
      const res = await send(r);
      cpu.push(cpuUs(c0));
      if (res.status !== 200) throw new Error(`${r.path}: ${res.status} ${res.text}`);
      plugin.push(Number(pluginNs - hostNs) / 1e3);
      hostCalls.push(Number(hostNs) / 1e3);
      const t0 = process.hrtime.bigint();
      const ok = verifyNode(r, nonces, Date.now());
      node.push(Number(process.hrtime.bigint() - t0) / 1e3);
      if (ok === null) throw new Error("the TypeScript verifier refused a valid request");
    }
  }
  return { plugin: median(plugin), hostCalls: median(hostCalls), node: median(node), cpu: median(cpu) };
}

/** The verifier alone in a tight loop (everything hot in cache): CPU µs per request, best round. */
function nodeHotUs(make: () => Req[]): number {
  let best = Infinity;
  for (let round = 0; round <= ROUNDS; round++) {
    const reqs = make();
    const nonces = new Set<string>();
    const now = Date.now();
    const c0 = process.cpuUsage();
    for (const r of reqs) if (verifyNode(r, nonces, now) === null) throw new Error("the TypeScript verifier refused a valid request");
    if (round > 0) best = Math.min(best, cpuUs(c0) / reqs.length);
  }
  return best;
}

export async function benchHmacAuth(): Promise<void> {
  execFileSync("node", ["scripts/build.mjs", "hmac-auth"], { stdio: "pipe" });
  const host = new Host({ clusters: { up: { handler: () => ({ status: 200, headers: { "content-type": "text/plain" }, body: "ok" }) } } });
  await host.addPlugin({ name: "hmac-auth", wasm: "dist/hmac-auth.wasm", phase: "AUTHN", priority: 330,
    config: { consumers: [{ name: "bench", key: KEY, secret: SECRET }, { name: "app", api_key: API_KEY }] } });
  host.addRoute({ name: "plain", match: { prefix: "/plain" }, cluster: "up", plugins: [] });
  host.addRoute({ name: "auth", match: { prefix: "/auth" }, cluster: "up", plugins: ["hmac-auth"] });

  const json = (size: number) => Buffer.from(JSON.stringify({ model: "qwen-max", messages: [{ role: "user", content: "x".repeat(size - 60) }] }));
  const path = "/v1/chat/completions";
  const cases = [
    { name: "hmac_sha256_1k", make: (route: string) => () => signedRequests(route + path, json(1024), N) },
    { name: "hmac_sha256_100k", make: (route: string) => () => signedRequests(route + path, json(100 * 1024), N / 4) },
    { name: "api_key_1k", make: (route: string) => () => apiKeyRequests(route + path, json(1024), N) },
  ];
  // Each case signs the path the gateway sees, route prefix included.
  const rows = [];
  for (const c of cases) {
    const plain = await measure(host, c.make("/plain"));
    const auth = await measure(host, c.make("/auth"));
    const hot = nodeHotUs(c.make("/auth"));
    rows.push({ name: c.name, ours: auth.plugin, hostCalls: auth.hostCalls, gateway: auth.cpu - plain.cpu, node: auth.node, hot, plain: plain.cpu });
  }
  host.close();

  const f = (x: number, d = 1, w = 12) => x.toFixed(d).padStart(w);
  console.log(`${"case".padEnd(18)}${"ours µs".padStart(10)}${"node µs".padStart(10)}${"ours/node".padStart(11)}${"node hot".padStart(10)}${"host calls".padStart(12)}${"gateway µs".padStart(12)}${"no-plugin".padStart(11)}`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(18)}${f(r.ours, 1, 10)}${f(r.node, 1, 10)}${f(r.ours / r.node, 2, 11)}${f(r.hot, 1, 10)}${f(r.hostCalls)}${f(r.gateway)}${f(r.plain, 1, 11)}`);
  }
  console.log("(ours = hmac-auth's own code per request; node = the same checks in TypeScript with node:crypto, run\n" +
    " right after each request like the plugin; node hot = the verifier alone in a tight loop, CPU time;\n" +
    " host calls = the TypeScript host serving the plugin's host calls; gateway = CPU with hmac-auth − without;\n" +
    ` no-plugin = CPU of the request without plugins; medians over ${ROUNDS} rounds of sequential requests, in-process upstream)`);
  for (const r of rows) {
    console.log(`BENCH hmac-auth case=${r.name} ours_us=${r.ours.toFixed(1)} node_us=${r.node.toFixed(1)} ratio=${(r.ours / r.node).toFixed(2)} ` +
      `node_hot_us=${r.hot.toFixed(1)} host_calls_us=${r.hostCalls.toFixed(1)} gateway_us=${r.gateway.toFixed(1)}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchHmacAuth();
