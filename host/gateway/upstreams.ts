// The clusters behind the routes: simulated upstreams started in-process, or real ones (http
// endpoints, or https through a forwarding handler), plus active health checks.
import http from "node:http";
import https from "node:https";
import type { ClusterConfig, EndpointConfig, Host, UpstreamRequest, UpstreamResponse } from "../index.ts";
import type { SimServer } from "../../e2e/sim/common.ts";
import { startAnthropic, startDashScope, startDify, startOpenAI } from "../../e2e/sim/providers.ts";
import { startVllm } from "../../e2e/sim/vllm.ts";
import type { ClusterSpec, SimulatorKind } from "./config.ts";

export type UpstreamMode = "sim" | "real";

const SIMULATORS: Record<SimulatorKind, (opts: Record<string, unknown>) => Promise<SimServer>> = {
  openai: (o) => startOpenAI(o),
  dashscope: (o) => startDashScope(o),
  anthropic: (o) => startAnthropic(o),
  dify: (o) => startDify(o),
  vllm: (o) => startVllm(o),
};

/** Starts one simulator of `kind` with the options of e2e/sim (port, host, timeScale, apiKeys, apps, ...). */
export function startSimulator(kind: SimulatorKind, options: Record<string, unknown>): Promise<SimServer> {
  return SIMULATORS[kind](options);
}

export interface StartedCluster {
  spec: ClusterSpec;
  /** Simulators behind it (empty for real upstreams). */
  sims: SimServer[];
  /** What it points at, for the startup listing. */
  target: string;
  config: ClusterConfig;
}

/** Simulated unless real upstreams are asked for and the cluster has a URL. */
export function usesSimulator(c: ClusterSpec, mode: UpstreamMode): boolean {
  return c.simulator !== null && (mode === "sim" || c.urls.length === 0);
}

export async function startCluster(c: ClusterSpec, mode: UpstreamMode, simDefaults: Record<string, unknown>): Promise<StartedCluster> {
  const metrics = (base: string): EndpointConfig["metrics"] => (c.metricsPath ? { url: base + c.metricsPath } : undefined);
  if (usesSimulator(c, mode)) {
    const s = c.simulator!;
    const sims = await Promise.all(Array.from({ length: s.replicas }, (_, i) =>
      startSimulator(s.kind, { ...simDefaults, seed: i + 1, ...s.options })));
    const endpoints = sims.map((x) => ({ address: `127.0.0.1:${x.port}`, metrics: metrics(x.url) }));
    return { spec: c, sims, target: `simulated ${s.kind}${sims.length > 1 ? ` ×${sims.length}` : ""} (${sims.map((x) => x.port).join(", ")})`, config: { endpoints } };
  }
  const urls = c.urls.map((u) => new URL(u));
  const endpoints = urls.map((u) => ({ address: `${u.hostname}:${u.port || (u.protocol === "https:" ? 443 : 80)}`, metrics: metrics(u.origin) }));
  const tls = urls.some((u) => u.protocol === "https:");
  return { spec: c, sims: [], target: c.urls.join(", "), config: tls ? { endpoints, handler: forwardTls(c.name) } : { endpoints } };
}

/** Relays a request to the endpoint the router picked, over TLS (the host speaks plain HTTP/1.1 only). */
function forwardTls(cluster: string): (req: UpstreamRequest) => Promise<UpstreamResponse> {
  const agent = new https.Agent({ keepAlive: true });
  return (req) => new Promise((resolve, reject) => {
    const i = req.endpoint.lastIndexOf(":");
    const host = req.endpoint.slice(0, i);
    const headers: Record<string, string> = {};
    for (const [k, v] of req.headers) if (!k.startsWith(":") && k !== "host" && k !== "content-length" && k !== "transfer-encoding") headers[k] = v;
    headers.host = host;   // the provider's own name, whatever authority a plugin left
    headers["content-length"] = String(req.body.length);
    const out = https.request({ host, port: Number(req.endpoint.slice(i + 1)), servername: host, method: req.method, path: req.path, headers, agent }, (res) => {
      const pairs: Array<[string, string]> = [];
      for (let j = 0; j < res.rawHeaders.length; j += 2) {
        const k = res.rawHeaders[j].toLowerCase();
        if (k !== "connection" && k !== "transfer-encoding" && k !== "keep-alive") pairs.push([k, res.rawHeaders[j + 1]]);
      }
      resolve({ status: res.statusCode ?? 502, headers: pairs, body: res });
    });
    out.on("error", (e) => reject(new Error(`${cluster}: ${e.message}`)));
    out.end(req.body);
  });
}

/** Active health checks (Envoy's health_checks): one GET per endpoint per interval; a failure marks it unhealthy. */
export function startHealthChecks(host: Host, clusters: StartedCluster[]): () => void {
  const timers: NodeJS.Timeout[] = [];
  for (const c of clusters) {
    const h = c.spec.health;
    const cluster = host.cluster(c.spec.name);
    if (!h || !cluster) continue;
    const tls = c.spec.urls.some((u) => u.startsWith("https:")) && c.sims.length === 0;
    const check = () => {
      for (const e of cluster.endpoints) {
        const client = tls ? https : http;
        const req = client.get({ host: e.host, port: e.port, path: h.path, timeout: h.timeoutMs }, (res) => {
          res.resume();
          e.healthy = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", () => { e.healthy = false; });
      }
    };
    const t = setInterval(check, h.intervalMs);
    t.unref();
    timers.push(t);
  }
  return () => timers.forEach(clearInterval);
}
