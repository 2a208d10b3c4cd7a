// The Higress side of a gateway file, as the all-in-one image's file-backed apiserver reads it
// (/data/<kind plural>/<name>.yaml): WasmPlugins in cluster mode loading /opt/plugins/<name>.wasm,
// one Ingress per route, and the McpBridge registries behind the cluster names.
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { stringify } from "yaml";
import type { GatewayConfig, RouteSpec, WasmPluginSpec } from "./config.ts";
import { pluginKind, withRedis } from "./plugins.ts";

type Json = Record<string, unknown>;

/** `outbound|8080||openai.dns` → registry openai, type dns, port 8080. */
export function registryOf(cluster: string): { name: string; type: "dns" | "static"; port: number } | null {
  const m = /^outbound\|(\d+)\|\|([a-z0-9-]+)\.(dns|static)$/.exec(cluster);
  return m ? { name: m[2], type: m[3] as "dns" | "static", port: Number(m[1]) } : null;
}

export function wasmPluginResource(p: WasmPluginSpec): Json {
  const spec: Json = { url: `file:///opt/plugins/${pluginKind(p)}.wasm` };
  if (p.phase !== "UNSPECIFIED_PHASE") spec.phase = p.phase;
  spec.priority = p.priority;
  if (p.failStrategy !== "FAIL_CLOSE") spec.failStrategy = p.failStrategy;
  if (p.defaultConfig) spec.defaultConfig = p.defaultConfig;
  else spec.defaultConfigDisable = true;
  if (p.matchRules.length) {
    spec.matchRules = p.matchRules.map((m) => ({
      ...(m.ingress.length ? { ingress: m.ingress } : {}),
      ...(m.domain.length ? { domain: m.domain } : {}),
      ...(m.service.length ? { service: m.service } : {}),
      config: m.config,
    }));
  }
  return { apiVersion: "extensions.higress.io/v1alpha1", kind: "WasmPlugin", metadata: { name: p.name, namespace: p.namespace }, spec };
}

export function ingressResource(r: RouteSpec, config: GatewayConfig): Json {
  const reg = registryOf(r.cluster);
  if (!reg) {
    const at = config.routes.find((x) => x === r)!.at;
    throw config.error(at, "cluster", `${r.cluster} is not a Higress service cluster name (outbound|<port>||<name>.dns|static)`);
  }
  const annotations: Record<string, string> = { "higress.io/destination": `${reg.name}.${reg.type}:${reg.port}` };
  if (r.rewrite !== null) annotations["higress.io/rewrite-target"] = r.rewrite;
  if (r.timeoutMs > 0) annotations["higress.io/timeout"] = String(Math.ceil(r.timeoutMs / 1000));
  const rule: Json = {
    http: { paths: [{ path: r.prefix, pathType: "Prefix", backend: { resource: { apiGroup: "networking.higress.io", kind: "McpBridge", name: "default" } } }] },
  };
  if (r.host !== "*") rule.host = r.host;
  return {
    apiVersion: "networking.k8s.io/v1", kind: "Ingress",
    metadata: { name: r.shortName, namespace: config.namespace, annotations },
    spec: { ingressClassName: "higress", rules: [rule] },
  };
}

/** Registries for every cluster name, each resolving the compose service of the same name. */
export function mcpBridgeResource(config: GatewayConfig): Json {
  const names = [...config.clusters.map((c) => c.name), `outbound|${config.redis.port}||${config.redis.service}`];
  const registries = names.flatMap((n) => {
    const reg = registryOf(n);
    if (!reg) return [];
    return [reg.type === "dns"
      ? { name: reg.name, type: "dns", domain: reg.name, port: reg.port }
      : { name: reg.name, type: "static", domain: `${reg.name}:${reg.port}`, port: 80 }];
  });
  return { apiVersion: "networking.higress.io/v1", kind: "McpBridge", metadata: { name: "default", namespace: config.namespace }, spec: { registries } };
}

/** Every resource, by its path under the data directory. */
export function higressResources(config: GatewayConfig): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const p of config.plugins) out.set(`wasmplugins/${p.name}.yaml`, wasmPluginResource(withRedis(p, config.redis)));
  for (const r of config.routes) out.set(`ingresses/${r.shortName}.yaml`, ingressResource(r, config));
  out.set("mcpbridges/default.yaml", mcpBridgeResource(config));
  return out;
}

export function renderResource(r: Json, source: string): string {
  return `# Generated from ${source} by \`npm start -- export-higress DIR\`; edit ${source} instead.\n${stringify(r, { lineWidth: 0 })}`;
}

export function exportHigress(config: GatewayConfig, dir: string): string[] {
  const written: string[] = [];
  for (const [path, res] of higressResources(config)) {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, renderResource(res, basename(config.file)));
    written.push(path);
  }
  return written;
}
