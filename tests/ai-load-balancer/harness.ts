// Fixtures for the ai-load-balancer tests and benchmark: the plugin in a host whose cluster has several
// endpoints (in-process scripted upstreams, or simulated vLLM servers), and a real redis-server.
import { execFileSync } from "node:child_process";
import { RedisServer } from "../support/redis.ts";
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

export { freePort, RedisServer } from "../support/redis.ts";

/** A redis-server with DEBUG enabled (one test holds a pick pending with DEBUG SLEEP). */
export function startRedis(): Promise<RedisServer> { return RedisServer.start(["--enable-debug-command", "local"]); }
