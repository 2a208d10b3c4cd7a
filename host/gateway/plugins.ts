// WasmPlugin resources → the plugin configurations Higress hands its plugins, the .wasm each one loads
// locally, and which plugins act on which route.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { PluginOptions } from "../index.ts";
import type { GatewayConfig, RedisSpec, RouteSpec, WasmPluginSpec } from "./config.ts";

type Json = Record<string, unknown>;

/**
 * What Higress's controller builds from a WasmPlugin (convertIstioWasmPlugin): the defaultConfig with
 * one `_rules_` entry per matchRule, its config plus `_match_route_` / `_match_domain_` / `_match_service_`.
 */
export function pluginConfig(p: WasmPluginSpec): Json {
  const out: Json = { ...(p.defaultConfig ?? {}) };
  if (p.matchRules.length) {
    out._rules_ = p.matchRules.map((m) => ({
      ...m.config,
      ...(m.ingress.length ? { _match_route_: m.ingress } : {}),
      ...(m.domain.length ? { _match_domain_: m.domain } : {}),
      ...(m.service.length ? { _match_service_: m.service } : {}),
    }));
  }
  return out;
}

/**
 * The local file for a plugin URL: a file:// path that exists here, else dist/<file name> (the
 * compose stack mounts dist/<name>.wasm at file:///opt/plugins/<name>.wasm); oci:// and http(s)://
 * images resolve to dist/<plugin name>.wasm, the build of the same plugin.
 */
export function localWasm(p: WasmPluginSpec, distDir: string): string {
  const path = p.url.startsWith("file://") ? p.url.slice("file://".length) : "";
  return path && existsSync(path) ? path : join(distDir, `${pluginKind(p)}.wasm`);
}

/** Which plugin a WasmPlugin runs: the .wasm file name, or the image name of an oci:// URL. */
export function pluginKind(p: WasmPluginSpec): string {
  const last = p.url.replace(/[?#].*$/, "").split("/").pop() ?? "";
  const name = p.url.startsWith("file://") || /^https?:/.test(p.url) ? last.replace(/\.wasm$/, "") : last.replace(/[:@].*$/, "");
  return name && name !== "plugin" ? name : p.name;   // the plugin server's .../<name>/<version>/plugin.wasm
}

export function pluginOptions(p: WasmPluginSpec, cfg: GatewayConfig, distDir: string): PluginOptions {
  const wasm = localWasm(p, distDir);
  if (!existsSync(wasm)) throw cfg.error(p.at, "spec.url", `${p.url} resolves to ${wasm}, which does not exist (run npm run build)`);
  return {
    name: p.name, wasm, config: pluginConfig(p), phase: p.phase, priority: p.priority,
    failStrategy: p.failStrategy, vms: cfg.workers,
  };
}

/**
 * Turns the host's "plugin X: ... config error: <field>: <why>" into a message about the field of the
 * WasmPlugin document: `_rules_[i].f` is matchRules[i].config.f, anything else defaultConfig.f.
 */
export function pluginConfigError(p: WasmPluginSpec, cfg: GatewayConfig, e: Error): Error {
  const m = /config error: ([^\n]*?): ([^\n]*)/.exec(e.message) ?? /config error: ([^\n]*)()/.exec(e.message);
  if (!m) return cfg.error(p.at, "spec", `refused by the plugin: ${e.message.split("\n").slice(0, 3).join(" / ")}`);
  const [, field, why] = m;
  const rule = /^_rules_\[(\d+)\]\.?(.*)$/.exec(field);
  const path = rule ? ["spec", "matchRules", Number(rule[1]), "config", ...split(rule[2])] : ["spec", "defaultConfig", ...split(field)];
  const shown = rule ? `spec.matchRules[${rule[1]}].config${rule[2] ? `.${rule[2]}` : ""}` : `spec.defaultConfig${field ? `.${field}` : ""}`;
  return cfg.error(cfg.where(p.at, path), shown, why || "refused by the plugin");
}

function split(field: string): Array<string | number> {
  return field.split(/\.|\[(\d+)\]/).filter((s) => s !== undefined && s !== "").map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** How a plugin's rules apply to a route: "all" (its defaultConfig), "rule" (a matchRule names it), or null. */
export function pluginOnRoute(p: WasmPluginSpec, route: RouteSpec): "all" | "rule" | "domain" | null {
  if (p.matchRules.some((m) => m.ingress.includes(route.name))) return "rule";
  if (p.matchRules.some((m) => m.domain.length > 0)) return p.defaultConfig ? "all" : "domain";
  return p.defaultConfig ? "all" : null;
}

/** Plugins in chain order (phase, then higher priority first), as Envoy runs them. */
export function chainOrder(plugins: WasmPluginSpec[]): WasmPluginSpec[] {
  const order = { AUTHN: 0, AUTHZ: 1, STATS: 2, UNSPECIFIED_PHASE: 3 } as const;
  return [...plugins].sort((a, b) => order[a.phase] - order[b.phase] || b.priority - a.priority);
}

/** Redis settings per plugin kind: the top-level field that holds them, in Higress's field names. */
const REDIS_FIELDS: Record<string, { key: string; set: (c: Json, r: RedisSpec) => Json }> = {
  "ai-token-ratelimit": { key: "redis", set: (c, r) => ({ ...c, redis: { ...(c.redis as Json), service_name: r.service, service_port: r.port } }) },
  "ai-load-balancer": { key: "lb_config", set: (c, r) => ({ ...c, lb_config: { ...(c.lb_config as Json), serviceFQDN: r.service, servicePort: r.port } }) },
  "hmac-auth": { key: "nonce", set: (c, r) => ({ ...c, nonce: { ...(c.nonce as Json), redis: { service_name: r.service, service_port: r.port } } }) },
};

export const redisCapable = (p: WasmPluginSpec): boolean => pluginKind(p) in REDIS_FIELDS;

/**
 * Cluster mode: points every Redis-capable plugin at the Redis service. A rule's top-level fields
 * replace the defaultConfig's, so a rule that sets the field holding the Redis settings gets them too.
 */
export function withRedis(p: WasmPluginSpec, r: RedisSpec): WasmPluginSpec {
  const f = REDIS_FIELDS[pluginKind(p)];
  if (!f) return p;
  return {
    ...p,
    defaultConfig: p.defaultConfig && f.set(p.defaultConfig, r),
    matchRules: p.matchRules.map((m) => (!p.defaultConfig || f.key in m.config ? { ...m, config: f.set(m.config, r) } : m)),
  };
}
