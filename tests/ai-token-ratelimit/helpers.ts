// Test fixtures for ai-token-ratelimit: a host running the plugin in front of a scripted OpenAI-style
// upstream, and a real redis-server for cluster mode.
import { execFileSync } from "node:child_process";
import net from "node:net";
import { Host, ManualClock, type UpstreamRequest, type UpstreamResponse } from "../../host/index.ts";

export const WASM = "dist/ai-token-ratelimit.wasm";
/** Redis as the Higress README examples name it (redis.static → port 80, redis.dns:6379). */
export const REDIS_CLUSTERS = ["outbound|80||redis.static", "outbound|6379||redis.static", "outbound|6379||redis.dns"];

let built = false;
export function buildPlugin(): void {
  if (built) return;
  execFileSync("node", ["scripts/build.mjs", "ai-token-ratelimit"], { stdio: "pipe" });
  built = true;
}

/** What the scripted upstream answers: usage it reports, and how it streams. */
export interface Reply {
  promptTokens?: number;
  completionTokens?: number;
  /** Text chunks of a streamed answer. */
  pieces?: string[];
  /** Report no usage at all (a provider that never does). */
  noUsage?: boolean;
  status?: number;
  /** Delay between streamed chunks (ms, real time). */
  delayMs?: number;
}

/** An OpenAI-compatible upstream: stream or not as the request asks; the usage chunk only with include_usage. */
export function openAiUpstream(reply: (req: UpstreamRequest, body: any) => Reply = () => ({})) {
  const received: Array<{ req: UpstreamRequest; body: any }> = [];
  const handler = (req: UpstreamRequest): UpstreamResponse => {
    let body: any = null;
    try { body = JSON.parse(req.body.toString() || "null"); } catch { body = null; }
    received.push({ req, body });
    const r = reply(req, body);
    const p = r.promptTokens ?? 10;
    const pieces = r.pieces ?? ["Hello", " world"];
    const c = r.completionTokens ?? pieces.length;
    const usage = { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
    if ((r.status ?? 200) !== 200) {
      return { status: r.status!, headers: { "content-type": "application/json" }, body: JSON.stringify({ error: { message: "upstream error" } }) };
    }
    if (!body?.stream) {
      const out: any = { id: "x", object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: pieces.join("") }, finish_reason: "stop" }] };
      if (!r.noUsage) out.usage = usage;
      return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(out) };
    }
    const withUsage = body?.stream_options?.include_usage === true && !r.noUsage;
    const chunk = (delta: object, finish: string | null) => {
      const o: any = { id: "x", object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: finish }] };
      if (withUsage) o.usage = null;
      return `data: ${JSON.stringify(o)}\n\n`;
    };
    async function* gen() {
      yield chunk({ role: "assistant", content: "" }, null);
      for (const piece of pieces) {
        if (r.delayMs) await new Promise((res) => setTimeout(res, r.delayMs));
        yield chunk({ content: piece }, null);
      }
      yield chunk({}, "stop");
      if (withUsage) yield `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", choices: [], usage })}\n\n`;
      yield "data: [DONE]\n\n";
    }
    return { status: 200, headers: { "content-type": "text/event-stream" }, body: gen() };
  };
  return { received, handler };
}

export interface Setup {
  host: Host;
  clock: ManualClock | null;
  upstream: ReturnType<typeof openAiUpstream>;
}

/** A host with the plugin on route "chat" → cluster "llm" (and the redis cluster when a port is given). */
export async function setup(config: object, opts: { vms?: number; manualClock?: boolean; redisPort?: number;
  reply?: (req: UpstreamRequest, body: any) => Reply; handler?: (req: UpstreamRequest) => UpstreamResponse } = {}): Promise<Setup> {
  buildPlugin();
  const clock = opts.manualClock === false ? null : new ManualClock();
  const upstream = openAiUpstream(opts.reply);
  const clusters: Record<string, any> = { llm: { handler: opts.handler ?? upstream.handler } };
  if (opts.redisPort) for (const c of REDIS_CLUSTERS) clusters[c] = { endpoints: [`127.0.0.1:${opts.redisPort}`] };
  const host = new Host({ clock: clock ?? undefined, clusters, logLevel: "info", printLogs: process.env.RL_LOG ? "debug" : false });
  await host.addPlugin({ name: "ai-token-ratelimit", wasm: WASM, config, vms: opts.vms ?? 1, priority: 600 });
  host.addRoute({ name: "chat", cluster: "llm" });
  return { host, clock, upstream };
}

export function chat(content: string, extra: object = {}): object {
  return { model: "gpt-4o", messages: [{ role: "user", content }], ...extra };
}

export function post(host: Host, body: object, opts: { path?: string; headers?: Record<string, string>; source?: string } = {}) {
  return host.request({ method: "POST", path: opts.path ?? "/v1/chat/completions", authority: "gw", headers: opts.headers ?? {}, source: opts.source, body });
}

// ---------------------------------------------------------------- redis

export { RedisServer, freePort } from "../support/redis.ts";

export function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

/** A TCP proxy in front of Redis that can delay or black-hole traffic (slow / hung Redis). */
export class SlowProxy {
  server: net.Server;
  delayMs = 0;
  port = 0;
  sockets = new Set<net.Socket>();
  constructor(public target: number) {
    this.server = net.createServer((client) => {
      this.sockets.add(client);
      const up = net.connect(target, "127.0.0.1");
      this.sockets.add(up);
      client.on("data", (d) => setTimeout(() => up.write(d), this.delayMs));
      up.on("data", (d) => setTimeout(() => { if (!client.destroyed) client.write(d); }, this.delayMs));
      const close = () => { client.destroy(); up.destroy(); };
      client.on("error", close); up.on("error", close); client.on("close", close); up.on("close", close);
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((res) => this.server.listen(0, "127.0.0.1", () => res()));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }
  close(): void { for (const s of this.sockets) s.destroy(); this.server.close(); }
}
