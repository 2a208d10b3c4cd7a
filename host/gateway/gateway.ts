// The local gateway: the proxy-wasm host behind a real HTTP port, configured from a gateway file
// (WasmPlugin resources + a Gateway document), with its upstreams simulated in-process or real.
import { join } from "node:path";
import { serve, type Served } from "../index.ts";
import type { SimServer } from "../../e2e/sim/common.ts";
import { DEFAULT_CONFIG, REPO_ROOT, type GatewayConfig, type RouteSpec, type WasmPluginSpec, loadConfigFile } from "./config.ts";
import { type AccessRecord, GatewayHost, formatAccess } from "./observe.ts";
import { chainOrder, pluginConfigError, pluginOnRoute, pluginOptions, withRedis } from "./plugins.ts";
import { type StartedCluster, type UpstreamMode, startCluster, startHealthChecks } from "./upstreams.ts";

export { DEFAULT_CONFIG, REPO_ROOT };
export const ADMIN_ROUTE = "gateway-admin";

export interface GatewayOptions {
  /** A loaded config, or the path of a gateway file (default: gateway.yaml). */
  config?: GatewayConfig | string;
  /** Listening port; 0 picks a free one. Default: the file's `port` (8080). */
  port?: number;
  hostname?: string;
  /** "real": clusters with a `url` use it instead of their simulator. */
  upstreams?: UpstreamMode;
  /** "host:port" of a Redis server: plugins switch to cluster mode (shared counters across gateways). */
  redis?: string | null;
  /** Defaults for every simulator (e.g. `{timeScale: 0.01}` in tests). */
  sim?: Record<string, unknown>;
  distDir?: string;
  /** Where access lines go; default stdout. `null`: nowhere (records still reach onAccess). */
  accessLog?: ((line: string, rec: AccessRecord) => void) | null;
  /** Plugin log lines at or above this level go to stderr (default "warn"). */
  printLogs?: "trace" | "debug" | "info" | "warn" | "error" | "critical" | false;
}

export interface RouteInfo {
  route: RouteSpec;
  cluster: StartedCluster;
  /** Plugins acting on the route, in chain order, with how they were attached. */
  plugins: Array<{ name: string; how: "all" | "rule" | "domain" }>;
}

export interface Gateway {
  url: string;
  port: number;
  host: GatewayHost;
  config: GatewayConfig;
  mode: UpstreamMode;
  redis: string | null;
  routes: RouteInfo[];
  /** Simulators by cluster name. */
  sims: Record<string, SimServer[]>;
  onAccess(fn: (r: AccessRecord) => void): () => void;
  close(): Promise<void>;
}

export async function startGateway(opts: GatewayOptions = {}): Promise<Gateway> {
  const config = typeof opts.config === "object" ? opts.config : loadConfigFile(opts.config ?? DEFAULT_CONFIG);
  const mode = opts.upstreams ?? "sim";
  const redis = opts.redis ?? null;
  const distDir = opts.distDir ?? join(REPO_ROOT, "dist");
  const plugins = config.plugins.map((p) => (redis ? withRedis(p, config.redis) : p));
  const host = new GatewayHost({ printLogs: opts.printLogs ?? "warn" });
  const started: StartedCluster[] = [];
  let served: Served | null = null;
  let stopHealth = () => {};
  const close = async () => {
    stopHealth();
    await served?.close();
    host.close();
    await Promise.all(started.flatMap((c) => c.sims.map((s) => s.close())));
  };
  try {
    for (const c of config.clusters) {
      const s = await startCluster(c, mode, opts.sim ?? {});
      started.push(s);
      host.addCluster(c.name, s.config);
    }
    if (redis) {
      if (!/^[^:\s]+:\d+$/.test(redis)) throw new Error(`--redis ${redis}: expected host:port`);
      host.addCluster(`outbound|${config.redis.port}||${config.redis.service}`, { endpoints: [redis] });
    }
    for (const p of plugins) await addPlugin(host, p, config, distDir);
    addAdminRoute(host);
    // Longest prefix first, as Higress orders Ingress paths; then file order.
    const routes = [...config.routes].sort((a, b) => b.prefix.length - a.prefix.length);
    for (const r of routes) {
      host.addRoute({ name: r.name, match: { prefix: r.prefix, host: r.host }, cluster: r.cluster, timeoutMs: r.timeoutMs });
      if (r.rewrite !== null) host.rewrites.set(r.name, { prefix: r.prefix, rewrite: r.rewrite });
    }
    stopHealth = startHealthChecks(host, started);
    const log = opts.accessLog === undefined ? (line: string) => console.log(line) : opts.accessLog;
    if (log) host.onAccess((rec) => log(formatAccess(rec), rec));
    served = await serve(host, { port: opts.port ?? config.port, hostname: opts.hostname ?? "127.0.0.1" });
  } catch (e) {
    await close();
    throw e;
  }
  const s = served;
  return {
    url: s.url, port: s.port, host, config, mode, redis,
    routes: config.routes.map((route) => ({
      route,
      cluster: started.find((c) => c.spec.name === route.cluster)!,
      plugins: chainOrder(plugins).flatMap((p) => {
        const how = pluginOnRoute(p, route);
        return how ? [{ name: p.name, how }] : [];
      }),
    })),
    sims: Object.fromEntries(started.map((c) => [c.spec.name, c.sims])),
    onAccess: (fn) => host.onAccess(fn),
    close,
  };
}

async function addPlugin(host: GatewayHost, p: WasmPluginSpec, config: GatewayConfig, distDir: string): Promise<void> {
  const opts = pluginOptions(p, config, distDir);
  try {
    await host.addPlugin(opts);
  } catch (e) {
    throw pluginConfigError(p, config, e as Error);
  }
}

/** Envoy's admin path for metrics, on the gateway port (no plugin runs on it). */
function addAdminRoute(host: GatewayHost): void {
  host.addCluster(ADMIN_ROUTE, {
    handler: () => ({ status: 200, headers: { "content-type": "text/plain; version=0.0.4" }, body: host.prometheusAll() }),
  });
  host.addRoute({ name: ADMIN_ROUTE, match: { path: "/stats/prometheus" }, cluster: ADMIN_ROUTE, plugins: [] });
  host.quietRoutes.add(ADMIN_ROUTE);
}
