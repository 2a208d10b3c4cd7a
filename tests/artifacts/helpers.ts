// Shared by the artifact tests: the plugins' console spec.yaml and WasmPlugin manifests, a JSON-Schema
// verdict (ajv over the spec's openAPIV3Schema) and the plugin's own verdict (configure it in the host).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { Host } from "../../host/index.ts";
import { REPO_ROOT } from "../../host/gateway/config.ts";
import { buildPlugins } from "../e2e/helpers.ts";

export const PLUGINS = ["hmac-auth", "ai-token-ratelimit", "ai-fallback", "ai-proxy", "ai-load-balancer"] as const;
export type PluginName = (typeof PLUGINS)[number];

export const pluginFile = (name: string, file: string): string => join(REPO_ROOT, "plugins", name, file);
export const readYaml = (path: string): any => parse(readFileSync(path, "utf8"));

export interface ConsoleSpec {
  apiVersion: string;
  info: Record<string, any>;
  spec: {
    phase: string;
    priority: number;
    configSchema: { openAPIV3Schema: Record<string, any> };
    routeConfigSchema?: { openAPIV3Schema: Record<string, any> };
  };
}

export const consoleSpec = (name: string): ConsoleSpec => readYaml(pluginFile(name, "spec.yaml"));

// OpenAPI's own keywords (example, x-*) are not JSON Schema: not strict, so they are ignored.
const ajv = new Ajv({ strict: false, allErrors: true });

/** null when the schema accepts the config, else its first complaints. */
export function schemaVerdict(schema: Record<string, any>, config: unknown): string | null {
  const validate = ajv.compile(schema);
  if (validate(config)) return null;
  return (validate.errors ?? []).slice(0, 3).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
}

const modules = new Map<string, WebAssembly.Module>();
function module(name: string): WebAssembly.Module {
  let m = modules.get(name);
  if (!m) {
    buildPlugins();
    m = new WebAssembly.Module(readFileSync(join(REPO_ROOT, "dist", `${name}.wasm`)));
    modules.set(name, m);
  }
  return m;
}

/** Clusters configs may name (Redis in every spelling the examples use, fallback targets). */
const KNOWN_CLUSTERS = [
  "outbound|6379||redis.dns", "outbound|80||redis.static", "outbound|6379||redis.static",
  "outbound|443||dashscope.dns", "outbound|8080||openai.dns",
];

/** null when the plugin configures with `config`, else the reason it gave. */
export async function pluginVerdict(name: string, config: unknown): Promise<string | null> {
  const host = new Host({ clusters: Object.fromEntries(KNOWN_CLUSTERS.map((c) => [c, { endpoints: ["127.0.0.1:9"] }])) });
  try {
    await host.addPlugin({ name, wasm: module(name), config: config as object });
    return null;
  } catch (e) {
    const m = /config error: ([^\n]*)/.exec((e as Error).message);
    return m ? m[1] : (e as Error).message.split("\n")[0];
  } finally {
    host.close();
  }
}

/** A route-level config as Higress delivers it: the global config plus one rule for a route. */
export function withRouteRule(global: Record<string, unknown>, route: Record<string, unknown>): Record<string, unknown> {
  return { ...global, _rules_: [{ _match_route_: ["default/demo"], ...route }] };
}
