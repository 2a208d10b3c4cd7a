// What `npm start` prints: the live routes, the plugins on each, and curl commands to try them.
import type { Gateway, RouteInfo } from "./gateway.ts";

type Json = Record<string, unknown>;

export function banner(gw: Gateway): string {
  const out: string[] = [];
  const mode = gw.mode === "sim" ? "simulated upstreams" : "real upstreams where a url is set";
  out.push(`Higress AI gateway (local) on ${gw.url}  [${mode}; plugins in ${gw.redis ? `cluster mode, Redis ${gw.redis}` : "local mode"}]`);
  out.push(`config: ${gw.config.file}`, "", "Routes (longest prefix first):");
  const byPrefix = [...gw.routes].sort((a, b) => b.route.prefix.length - a.route.prefix.length);
  const width = Math.max(...byPrefix.map((r) => r.route.prefix.length));
  for (const r of byPrefix) {
    const rw = r.route.rewrite !== null ? ` (rewritten to ${r.route.rewrite})` : "";
    out.push(`  ${r.route.prefix.padEnd(width)}  ${r.route.name} -> ${r.route.cluster}: ${r.cluster.target}${rw}`);
    out.push(`  ${"".padEnd(width)}  plugins: ${r.plugins.length ? r.plugins.map((p) => p.name + (p.how === "rule" ? "" : p.how === "domain" ? " (by domain)" : " (default config)")).join(" -> ") : "none"}`);
  }
  const tries = byPrefix.flatMap((r) => examples(gw, r));
  if (tries.length) out.push("", "Try:", ...tries.map((t) => `  ${t}`));
  out.push("", `Metrics: curl ${gw.url}/stats/prometheus`, "Each request logs one line: route, model, consumer, status, tokens in/out, first token, fallback, upstream.");
  return out.join("\n");
}

const shell = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A curl command per route, shaped by what answers there (simulator kind or ai-proxy provider). */
function examples(gw: Gateway, r: RouteInfo): string[] {
  const base = gw.url + r.route.prefix.replace(/\/$/, "");
  const auth = apiKeyFor(gw, r);
  const headers = auth ? ` -H ${shell(`Authorization: Bearer ${auth}`)}` : "";
  const post = (path: string, body: Json, extra = "") =>
    `curl -sS ${base}${path}${headers}${extra} -H 'Content-Type: application/json' -d ${shell(JSON.stringify(body))}`;
  const chat = (model: string) => ({ model, messages: [{ role: "user", content: "Hello! Who are you?" }] });
  const kind = r.cluster.spec.simulator?.kind;
  const provider = aiProxyProvider(gw, r);
  if (r.route.prefix.endsWith("/chat/completions")) {
    return [`curl -sS ${base}${headers} -H 'Content-Type: application/json' -d ${shell(JSON.stringify({ ...chat("qwen-max"), stream: true }))}`];
  }
  if (provider === "qwen") {
    return [
      post("/v1/embeddings", { model: "text-embedding-v3", input: ["gateway", "plugin"] }),
      post("/api/v1/services/rerank/text-rerank/text-rerank",
        { model: "gte-rerank-v2", input: { query: "what is a gateway", documents: ["a gateway routes requests", "bananas are yellow"] }, parameters: { return_documents: true } }),
      post("/api/v1/services/aigc/multimodal-generation/generation",
        { model: "qwen-image-plus", input: { messages: [{ role: "user", content: [{ text: "a lighthouse at dawn" }] }] }, parameters: { size: "1328*1328" } }),
    ];
  }
  if (provider === "claude") {
    return [
      post("/v1/chat/completions", chat("claude-3-5-haiku-latest")),
      post("/v1/messages", { model: "claude-3-5-haiku-latest", max_tokens: 64, messages: [{ role: "user", content: "Hello!" }] }, " -H 'anthropic-version: 2023-06-01'"),
    ];
  }
  if (kind === "dify") {
    const apps = (r.cluster.spec.simulator?.options.apps as Array<{ key: string; mode: string }> | undefined) ?? [];
    return apps.filter((a) => a.mode === "chat" || a.mode === "workflow").map((a) => a.mode === "workflow"
      ? post("/v1/workflows/run", { inputs: { topic: "gateways" }, response_mode: "streaming", user: "u1" }, ` -H ${shell(`Authorization: Bearer ${a.key}`)} -H ${shell(`x-app-id: ${a.key}`)}`)
      : post("/v1/chat-messages", { inputs: {}, query: "Hello!", response_mode: "streaming", user: "u1" }, ` -H ${shell(`Authorization: Bearer ${a.key}`)} -H ${shell(`x-app-id: ${a.key}`)}`));
  }
  if (kind === "vllm") {
    const model = (r.cluster.spec.simulator?.options.model as string | undefined) ?? "meta-llama/Llama-3.1-8B-Instruct";
    return [post("/v1/chat/completions", chat(model))];
  }
  return [];
}

/** The route's ai-proxy provider type, when a rule (or the default config) gives one. */
function aiProxyProvider(gw: Gateway, r: RouteInfo): string | null {
  const p = gw.config.plugins.find((x) => x.name === "ai-proxy");
  const rule = p?.matchRules.find((m) => m.ingress.includes(r.route.name));
  const cfg = (rule?.config ?? p?.defaultConfig ?? {}) as Json;
  return ((cfg.provider as Json | undefined)?.type as string | undefined) ?? null;
}

/** An API key of a consumer hmac-auth allows on the route (curl cannot sign HMAC requests by itself). */
function apiKeyFor(gw: Gateway, r: RouteInfo): string | null {
  const p = gw.config.plugins.find((x) => x.name === "hmac-auth");
  const rule = p?.matchRules.find((m) => m.ingress.includes(r.route.name));
  if (!p || (!rule && p.defaultConfig?.global_auth !== true)) return null;
  const allow = (rule?.config.allow as string[] | undefined) ?? null;
  const consumers = ((p.defaultConfig?.consumers as Json[] | undefined) ?? []);
  const c = consumers.find((x) => typeof x.api_key === "string" && (allow === null || allow.includes(x.name as string)));
  return (c?.api_key as string | undefined) ?? null;
}
