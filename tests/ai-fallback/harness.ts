// Test fixtures for ai-fallback: the host running the plugin on a route to a primary cluster, with
// fallback clusters, all pointing at the simulators in e2e/sim (real HTTP servers).
import { execFileSync } from "node:child_process";
import { Host, type HostResponse } from "../../host/index.ts";
import type { SimServer } from "../../e2e/sim/common.ts";

/** FB_WASM runs the tests against a given build instead of building dist/ai-fallback.wasm. */
export const WASM = process.env.FB_WASM ?? "dist/ai-fallback.wasm";
export const PRIMARY = "outbound|8000||vllm.static";
export const BACKUP = "outbound|443||backup.dns";
export const QWEN = "outbound|443||dashscope.dns";

let built = false;
export function buildPlugins(names: string[] = ["ai-fallback"]): void {
  if (built && names.length === 1) return;
  const wanted = process.env.FB_WASM ? names.filter((n) => n !== "ai-fallback") : names;
  if (wanted.length) execFileSync("node", ["scripts/build.mjs", ...wanted], { stdio: "pipe" });
  built = true;
}

export interface SetupOptions {
  config: object;
  /** Cluster name → simulator serving it. */
  clusters: Record<string, SimServer>;
  vms?: number;
  /** The route's own upstream timeout (Envoy's route timeout), ms. */
  routeTimeoutMs?: number;
  /** More plugins on the route (name, wasm, config, priority). */
  extra?: Array<{ name: string; wasm: string; config: object; priority: number }>;
  priority?: number;
}

export async function setup(opts: SetupOptions): Promise<Host> {
  buildPlugins();
  const clusters: Record<string, { endpoints: string[] }> = {};
  for (const [name, sim] of Object.entries(opts.clusters)) clusters[name] = { endpoints: [`127.0.0.1:${sim.port}`] };
  const host = new Host({ clusters, logLevel: "info", printLogs: process.env.FB_LOG ? "debug" : false });
  await host.addPlugin({ name: "ai-fallback", wasm: WASM, config: opts.config, vms: opts.vms ?? 1, priority: opts.priority ?? 200 });
  for (const e of opts.extra ?? []) await host.addPlugin({ name: e.name, wasm: e.wasm, config: e.config, priority: e.priority });
  host.addRoute({ name: "chat", cluster: PRIMARY, timeoutMs: opts.routeTimeoutMs });
  return host;
}

export function chat(extra: object = {}): Record<string, unknown> {
  return { model: "meta-llama/Llama-3.1-8B-Instruct", messages: [{ role: "user", content: "Say hello" }], max_tokens: 8, ...extra };
}

export function post(host: Host, body: object, headers: Record<string, string> = {}, path = "/v1/chat/completions"): Promise<HostResponse> {
  return host.request({ method: "POST", path, authority: "gateway.local", headers: { authorization: "Bearer client-key", ...headers }, body });
}

/** The data payloads of an SSE body, in order. */
export function sseData(text: string): string[] {
  return text.split(/\r?\n\r?\n/).flatMap((block) => block.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()))
    .filter((d) => d.length > 0);
}

/** An OpenAI chat stream as the client receives it: every chunk parses, it ends with [DONE]; the text. */
export function openAiStreamText(text: string): string {
  const data = sseData(text);
  if (data.at(-1) !== "[DONE]") throw new Error(`stream does not end with [DONE]: ${text.slice(-200)}`);
  let out = "";
  for (const d of data.slice(0, -1)) {
    const j = JSON.parse(d);
    if (j.object !== "chat.completion.chunk") throw new Error(`not a chat.completion.chunk: ${d}`);
    out += j.choices?.[0]?.delta?.content ?? "";
  }
  return out;
}

export function header(r: HostResponse, name: string): string | undefined {
  return r.headers[name];
}
