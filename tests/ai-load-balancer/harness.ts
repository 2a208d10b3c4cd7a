// Fixtures for the ai-load-balancer tests and benchmark: the plugin in a host whose cluster has several
// endpoints (in-process scripted upstreams, or simulated vLLM servers), and a real redis-server.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { Host, ManualClock, type EndpointConfig, type HostResponse, type RouteConfig, type UpstreamRequest, type UpstreamResponse } from "../../host/index.ts";

export const WASM = "dist/ai-load-balancer.wasm";
export const ROUTE = "llm-route";
/** An Envoy cluster name as Higress builds it for a service. */
export const CLUSTER = "outbound|8000||vllm.dns";
export const REDIS_CLUSTER = "outbound|6379||redis.dns";

let built = false;
export function buildPlugin(): void {
  if (built) return;
  execFileSync("node", ["scripts/build.mjs", "ai-load-balancer"], { stdio: "pipe" });
  built = true;
}

export interface LbHostOptions {
  vms?: number;
  clock?: ManualClock;
  redisPort?: number;
  /** In-process upstream answering for every endpoint (endpoints then need no server). */
  handler?: (req: UpstreamRequest) => UpstreamResponse | Promise<UpstreamResponse>;
  logLevel?: "trace" | "debug" | "info";
  /** Routes matched before ROUTE (which takes every path). */
  routesFirst?: RouteConfig[];
}

/** A host with the plugin on route ROUTE -> cluster CLUSTER (endpoints as given) and, with a port, Redis. */
export async function lbHost(config: object, endpoints: Array<string | EndpointConfig>, opts: LbHostOptions = {}): Promise<Host> {
  buildPlugin();
  const clusters: Record<string, any> = { [CLUSTER]: { endpoints, handler: opts.handler } };
  if (opts.redisPort) clusters[REDIS_CLUSTER] = { endpoints: [`127.0.0.1:${opts.redisPort}`] };
  const host = new Host({ clock: opts.clock, clusters, logLevel: opts.logLevel ?? "debug", printLogs: process.env.LB_LOG ? "debug" : false });
  await host.addPlugin({ name: "ai-load-balancer", wasm: WASM, config, vms: opts.vms ?? 1, phase: "default", priority: 50 });
  for (const r of opts.routesFirst ?? []) host.addRoute(r);
  host.addRoute({ name: ROUTE, cluster: CLUSTER });
  return host;
}

/** lb_config for cluster mode against the test's redis-server. */
export function redisConfig(port: number, extra: object = {}): object {
  void port;
  return { serviceFQDN: "redis.dns", servicePort: 6379, timeout: 1000, ...extra };
}

export type Message = { role: string; content: unknown };

export function chat(messages: Message[], extra: object = {}): object {
  return { model: "meta-llama/Llama-3.1-8B-Instruct", messages, ...extra };
}

export function post(host: Host, body: object | string, headers: Record<string, string> = {}): Promise<HostResponse> {
  return host.request({ method: "POST", path: "/v1/chat/completions", authority: "gw", headers: { "content-type": "application/json", ...headers }, body });
}

/** The endpoint a finished request went to ("" when none). */
export function endpointOf(r: HostResponse): string {
  return r.upstreamRequest?.endpoint ?? "";
}

// ---------------------------------------------------------------- a scripted upstream with held replies

/**
 * Answers every endpoint; replies for requests whose body matches `hold` wait until release().
 * Records which endpoint each request reached.
 */
export function scriptedUpstream() {
  const seen: Array<{ endpoint: string; body: any }> = [];
  const waiting: Array<() => void> = [];
  let holding = false;
  const handler = async (req: UpstreamRequest): Promise<UpstreamResponse> => {
    let body: any = null;
    try { body = JSON.parse(req.body.toString() || "null"); } catch { body = req.body.toString(); }
    seen.push({ endpoint: req.endpoint, body });
    if (holding) await new Promise<void>((r) => waiting.push(r));
    return { status: 200, headers: { "content-type": "application/json", "x-endpoint": req.endpoint }, body: JSON.stringify({ ok: true, endpoint: req.endpoint }) };
  };
  return {
    handler,
    seen,
    /** Replies wait from now on. */
    hold() { holding = true; },
    /** Lets every waiting reply go and stops holding. */
    release() { holding = false; for (const w of waiting.splice(0)) w(); },
    get waiting() { return waiting.length; },
  };
}

/** Lets streams run until `cond` holds (real event-loop turns). */
export async function until(cond: () => boolean, what = "condition", ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

// ---------------------------------------------------------------- redis

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export class RedisServer {
  private proc: ChildProcess | null = null;
  private constructor(public port: number) {}

  static async start(): Promise<RedisServer> {
    const r = new RedisServer(await freePort());
    r.proc = spawn("redis-server", ["--port", String(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--enable-debug-command", "local"], { stdio: "ignore" });
    for (let i = 0; i < 200; i++) {
      try { if ((await r.command("PING")) === "+PONG\r\n") return r; } catch { /* not up yet */ }
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new Error("redis-server did not start");
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p) return;
    const gone = new Promise((res) => p.once("exit", res));
    p.kill("SIGKILL");
    await gone;
  }

  /** One command; the raw RESP reply. */
  command(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = net.connect(this.port, "127.0.0.1");
      let out = "";
      s.on("data", (d) => {
        out += d.toString();
        if (complete(out)) { s.end(); resolve(out); }
      });
      s.on("error", reject);
      s.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(""));
    });
  }

  async integer(...args: string[]): Promise<number> {
    const r = await this.command(...args);
    if (!r.startsWith(":")) throw new Error(`not an integer reply: ${r}`);
    return Number(r.slice(1, r.indexOf("\r\n")));
  }

  async keys(pattern: string): Promise<string[]> {
    return this.array("KEYS", pattern);
  }

  /** A command whose reply is a flat array of strings. */
  async array(...args: string[]): Promise<string[]> {
    return parseArray(await this.command(...args));
  }
}

/** Whether a RESP reply (simple values or a flat array of bulk strings) is complete. */
function complete(s: string): boolean {
  if (!s.endsWith("\r\n")) return false;
  if (s[0] !== "*") return s[0] !== "$" || s.startsWith("$-1") || s.split("\r\n").length >= 3;
  try { parseArray(s); return true; } catch { return false; }
}

function parseArray(s: string): string[] {
  const lines = s.split("\r\n");
  const n = Number(lines[0].slice(1));
  const out: string[] = [];
  let i = 1;
  for (let k = 0; k < n; k++) {
    if (i >= lines.length - 1) throw new Error("short");
    const head = lines[i++];
    if (head.startsWith("$")) { out.push(lines[i++] ?? ""); if (i > lines.length - 1) throw new Error("short"); }
    else out.push(head.slice(1));
  }
  return out;
}
