// The gateway's configuration file: a multi-document YAML whose WasmPlugin documents are exactly what
// a user applies to Higress, plus one `Gateway` document with the routes and clusters that Higress
// would get from Ingresses and McpBridge registries. Every problem is reported as
// `<file>:<line>: <field>: <why>` and refuses the whole file.
import { readFileSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { LineCounter, parseAllDocuments, type Document } from "yaml";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The embedded default: every demo on simulated upstreams, plugins in local mode. */
export const DEFAULT_CONFIG = join(REPO_ROOT, "gateway.yaml");

export const WASMPLUGIN_API = "extensions.higress.io/v1alpha1";
export const GATEWAY_API = "gateway.higress-ai.local/v1";
export const PHASES = ["AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"] as const;
export type PhaseName = (typeof PHASES)[number];
export const SIMULATORS = ["openai", "dashscope", "anthropic", "dify", "vllm"] as const;
export type SimulatorKind = (typeof SIMULATORS)[number];

export class ConfigFileError extends Error {
  constructor(readonly file: string, readonly line: number | null, readonly field: string, readonly why: string) {
    super(`${file}${line !== null ? `:${line}` : ""}: ${field}: ${why}`);
  }
}

export interface MatchRule {
  ingress: string[];
  domain: string[];
  service: string[];
  config: Record<string, unknown>;
}

/** One WasmPlugin resource, env references resolved. */
export interface WasmPluginSpec {
  name: string;
  namespace: string;
  url: string;
  phase: PhaseName;
  priority: number;
  failStrategy: "FAIL_CLOSE" | "FAIL_OPEN";
  defaultConfig: Record<string, unknown> | null;
  matchRules: MatchRule[];
  /** Where the document starts in the file, for error messages about it. */
  at: Where;
}

export interface SimulatorSpec {
  kind: SimulatorKind;
  /** Independent servers behind the cluster (vLLM replicas). */
  replicas: number;
  /** Extra options for the simulator (timeScale, apps, models, ...). */
  options: Record<string, unknown>;
}

export interface ClusterSpec {
  /** Envoy's cluster name, as plugins refer to it: `outbound|<port>||<service>.<dns|static>`. */
  name: string;
  /** Started in-process unless real upstreams are asked for (or no url is given). */
  simulator: SimulatorSpec | null;
  /** Real upstream base URLs (http or https); used with `--upstreams real`, or when there is no simulator. */
  urls: string[];
  health: { path: string; intervalMs: number; timeoutMs: number } | null;
  /** Path of the endpoints' Prometheus metrics (what Higress's Envoy scrapes for ai-load-balancer). */
  metricsPath: string | null;
  at: Where;
}

export interface RouteSpec {
  /** `<namespace>/<name>`: the route_name plugins see and WasmPlugin matchRules.ingress names. */
  name: string;
  /** The Ingress name. */
  shortName: string;
  prefix: string;
  host: string;
  cluster: string;
  /** Envoy's prefix_rewrite: the matched prefix is replaced by this before the request goes upstream. */
  rewrite: string | null;
  timeoutMs: number;
  at: Where;
}

export interface RedisSpec {
  /** The service plugins name (service_name / serviceFQDN) and its port; the cluster is `outbound|port||service`. */
  service: string;
  port: number;
}

export interface GatewayConfig {
  file: string;
  namespace: string;
  port: number;
  /** proxy-wasm VMs per plugin: Envoy's worker threads. */
  workers: number;
  redis: RedisSpec;
  clusters: ClusterSpec[];
  routes: RouteSpec[];
  plugins: WasmPluginSpec[];
  /** Locates a field of a document for error messages. */
  where(at: Where, path: Array<string | number>): Where;
  error(at: Where, field: string, why: string): ConfigFileError;
}

export interface Where {
  doc: number;
  path: Array<string | number>;
  label: string;
}

type Env = Record<string, string | undefined>;
type Json = Record<string, unknown>;

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Field access with errors that name the file, line and field. */
class Reader {
  constructor(private docs: Document[], private lines: LineCounter, readonly file: string, private env: Env) {}

  line(at: Where): number | null {
    const doc = this.docs[at.doc];
    for (let path = at.path; ; path = path.slice(0, -1)) {
      const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return this.lines.linePos(node.range[0]).line;
      if (path.length === 0) return null;
    }
  }

  error(at: Where, field: string, why: string): ConfigFileError {
    return new ConfigFileError(this.file, this.line(at), field ? `${at.label} ${field}` : at.label, why);
  }

  fail(at: Where, path: Array<string | number>, why: string): never {
    throw this.error({ ...at, path: [...at.path, ...path] }, fieldName(path), why);
  }

  /** Replaces ${VAR} and ${VAR:-default} in every string, reporting a missing variable by field. */
  resolve(value: unknown, at: Where, path: Array<string | number>): unknown {
    if (typeof value === "string") {
      return value.replace(ENV_REF, (_m, name: string, dflt: string | undefined) => {
        const v = this.env[name];
        if (v !== undefined && v !== "") return v;
        if (dflt !== undefined) return dflt;
        return this.fail(at, path, `environment variable ${name} is not set (write \${${name}:-default} for a default)`);
      });
    }
    if (Array.isArray(value)) return value.map((v, i) => this.resolve(v, at, [...path, i]));
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolve(v, at, [...path, k])]));
    }
    return value;
  }
}

function fieldName(path: Array<string | number>): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

/** Typed getters over one object of a document; `path` is where the object sits. */
class Fields {
  constructor(private r: Reader, private at: Where, readonly path: Array<string | number>, readonly obj: Json, allowed: string[]) {
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) r.fail(at, [...path, k], `unknown field (known: ${allowed.join(", ")})`);
  }
  fail(key: string | Array<string | number>, why: string): never {
    return this.r.fail(this.at, [...this.path, ...(Array.isArray(key) ? key : [key])], why);
  }
  has(key: string): boolean { return this.obj[key] !== undefined && this.obj[key] !== null; }
  str(key: string, dflt?: string): string {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (dflt !== undefined) return dflt;
      return this.fail(key, "is required");
    }
    if (typeof v !== "string" || v === "") return this.fail(key, "must be a non-empty string");
    return v;
  }
  int(key: string, dflt: number, min: number, max: number): number {
    const v = this.obj[key] ?? dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) return this.fail(key, `must be an integer from ${min} to ${max}`);
    return v;
  }
  bool(key: string, dflt: boolean): boolean {
    const v = this.obj[key] ?? dflt;
    if (typeof v !== "boolean") return this.fail(key, "must be true or false");
    return v;
  }
  oneOf<T extends string>(key: string, values: readonly T[], dflt: T): T {
    const v = this.obj[key] ?? dflt;
    if (!values.includes(v as T)) return this.fail(key, `must be one of ${values.join(", ")}`);
    return v as T;
  }
  strings(key: string): string[] {
    const v = this.obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== "string" || s === "")) return this.fail(key, "must be a list of non-empty strings");
    return v as string[];
  }
  object(key: string): Json | null {
    const v = this.obj[key];
    if (v === undefined || v === null) return null;
    if (!isObject(v)) return this.fail(key, "must be an object");
    return v;
  }
  list(key: string): unknown[] {
    const v = this.obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) return this.fail(key, "must be a list");
    return v;
  }
  child(key: string | number, value: unknown, allowed: string[], parent: Array<string | number> = []): Fields {
    const path = [...this.path, ...parent, key];
    if (!isObject(value)) return this.r.fail(this.at, path, "must be an object");
    return new Fields(this.r, this.at, path, value, allowed);
  }
}

export interface LoadOptions {
  env?: Env;
  /** Shown instead of the path in messages (e.g. the embedded default's name). */
  displayName?: string;
}

export function loadConfigFile(path: string, opts: LoadOptions = {}): GatewayConfig {
  const rel = relative(process.cwd(), path);
  const name = opts.displayName ?? (rel.startsWith("..") || isAbsolute(rel) ? path : rel);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigFileError(name, null, "file", `cannot be read: ${(e as Error).message}`);
  }
  return parseConfig(text, name, opts.env ?? process.env);
}

export function parseConfig(text: string, file: string, env: Env = process.env): GatewayConfig {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines }) as Document[];
  for (const d of docs) {
    const e = d.errors[0];
    if (e) throw new ConfigFileError(file, e.linePos?.[0].line ?? null, "YAML", e.message.split("\n")[0]);
  }
  const r = new Reader(docs, lines, file, env);
  const plugins: WasmPluginSpec[] = [];
  let gateway: { fields: Fields; at: Where } | null = null;

  docs.forEach((d, i) => {
    const raw = d.toJS();
    if (raw === null || raw === undefined) return;
    const top: Where = { doc: i, path: [], label: `document ${i + 1}` };
    if (!isObject(raw)) r.fail(top, [], "must be an object with apiVersion and kind");
    const kind = raw.kind;
    const at: Where = { doc: i, path: [], label: `${String(kind)} ${String((raw.metadata as Json | undefined)?.name ?? "")}`.trim() };
    if (kind === "WasmPlugin") {
      if (raw.apiVersion !== WASMPLUGIN_API) r.fail(at, ["apiVersion"], `must be ${WASMPLUGIN_API}`);
      plugins.push(wasmPlugin(r, at, raw));
    } else if (kind === "Gateway") {
      if (raw.apiVersion !== GATEWAY_API) r.fail(at, ["apiVersion"], `must be ${GATEWAY_API}`);
      if (gateway) r.fail(at, [], "only one Gateway document is allowed");
      const spec = r.resolve(raw.spec, at, ["spec"]);
      const root = new Fields(r, at, [], { ...raw, spec }, ["apiVersion", "kind", "metadata", "spec"]);
      gateway = { fields: root.child("spec", spec, ["namespace", "port", "workers", "redis", "clusters", "routes"]), at };
    } else {
      r.fail(top, ["kind"], "must be WasmPlugin or Gateway");
    }
  });
  if (!gateway) throw new ConfigFileError(file, null, "Gateway", `no document with kind: Gateway (apiVersion ${GATEWAY_API}) listing routes and clusters`);
  const g = gateway as { fields: Fields; at: Where };
  const spec = g.fields;
  const namespace = spec.str("namespace", "higress-system");

  const clusters = spec.list("clusters").map((c, i) => cluster(spec.child(i, c, ["name", "simulator", "url", "health", "metrics"], ["clusters"]), g.at));
  const seen = new Set<string>();
  clusters.forEach((c, i) => {
    if (seen.has(c.name)) spec.fail(["clusters", i, "name"], `duplicate cluster ${c.name}`);
    seen.add(c.name);
  });
  if (clusters.length === 0) spec.fail("clusters", "needs at least one cluster");

  const routes = spec.list("routes").map((x, i) => {
    const f = spec.child(i, x, ["name", "prefix", "host", "cluster", "rewrite", "timeoutMs"], ["routes"]);
    const shortName = f.str("name");
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(shortName)) f.fail("name", "must be a Kubernetes resource name (lowercase letters, digits, - and .)");
    const prefix = f.str("prefix", "/");
    if (!prefix.startsWith("/")) f.fail("prefix", "must start with /");
    const clusterName = f.str("cluster");
    if (!seen.has(clusterName)) f.fail("cluster", `no cluster named ${clusterName} (clusters: ${[...seen].join(", ")})`);
    const rewrite = f.has("rewrite") ? f.str("rewrite") : null;
    if (rewrite !== null && !rewrite.startsWith("/")) f.fail("rewrite", "must start with /");
    return {
      name: `${namespace}/${shortName}`, shortName, prefix, host: f.str("host", "*"), cluster: clusterName, rewrite,
      timeoutMs: f.int("timeoutMs", 0, 0, 3_600_000), at: { ...g.at, path: f.path },
    };
  });
  if (routes.length === 0) spec.fail("routes", "needs at least one route");
  const names = new Set<string>();
  routes.forEach((rt, i) => {
    if (names.has(rt.name)) spec.fail(["routes", i, "name"], `duplicate route ${rt.shortName}`);
    names.add(rt.name);
  });

  const redisFields = spec.child("redis", spec.object("redis") ?? {}, ["service", "port"]);
  const config: GatewayConfig = {
    file, namespace,
    port: spec.int("port", 8080, 0, 65535),
    workers: spec.int("workers", 2, 1, 64),
    redis: { service: redisFields.str("service", "redis.dns"), port: redisFields.int("port", 6379, 1, 65535) },
    clusters, routes, plugins,
    where: (at, path) => ({ ...at, path: [...at.path, ...path] }),
    error: (at, field, why) => r.error(at, field, why),
  };
  checkPlugins(r, config);
  return config;
}

function wasmPlugin(r: Reader, at: Where, raw: Json): WasmPluginSpec {
  const root = new Fields(r, at, [], raw, ["apiVersion", "kind", "metadata", "spec"]);
  const meta = root.child("metadata", raw.metadata ?? {}, ["name", "namespace", "labels", "annotations"]);
  const spec = root.child("spec", r.resolve(raw.spec, at, ["spec"]), [
    "url", "phase", "priority", "failStrategy", "defaultConfig", "defaultConfigDisable", "matchRules",
    "imagePullPolicy", "imagePullSecret", "sha256", "vmConfig", "pluginName",
  ]);
  // The console writes the unspecified phase as "default".
  const phase = spec.obj.phase === "default" ? "UNSPECIFIED_PHASE" : spec.oneOf("phase", PHASES, "UNSPECIFIED_PHASE");
  const disabled = spec.bool("defaultConfigDisable", false);
  const matchRules = spec.list("matchRules").map((m, i) => {
    const f = spec.child(i, m, ["ingress", "domain", "service", "config", "configDisable"], ["matchRules"]);
    if (f.bool("configDisable", false)) f.fail("configDisable", "is not supported by the local gateway (remove the rule instead)");
    const rule = { ingress: f.strings("ingress"), domain: f.strings("domain"), service: f.strings("service"), config: f.object("config") ?? {} };
    if (rule.ingress.length + rule.domain.length + rule.service.length === 0) f.fail([], "needs ingress, domain or service");
    return rule;
  });
  const defaultConfig = disabled ? null : spec.object("defaultConfig");
  if (!defaultConfig && matchRules.length === 0) spec.fail([], "needs defaultConfig or matchRules: the plugin would never run");
  return {
    name: meta.str("name"),
    namespace: meta.str("namespace", "higress-system"),
    url: spec.str("url"),
    phase,
    priority: spec.int("priority", 0, -2147483648, 2147483647),
    failStrategy: spec.oneOf("failStrategy", ["FAIL_CLOSE", "FAIL_OPEN"] as const, "FAIL_CLOSE"),
    defaultConfig, matchRules, at,
  };
}

function cluster(f: Fields, gatewayAt: Where): ClusterSpec {
  const name = f.str("name");
  let simulator: SimulatorSpec | null = null;
  const sim = f.obj.simulator;
  if (typeof sim === "string") simulator = { kind: simKind(f, sim, ["simulator"]), replicas: 1, options: {} };
  else if (sim !== undefined && sim !== null) {
    const s = f.child("simulator", sim, ["kind", "replicas", "options"]);
    simulator = { kind: simKind(s, s.str("kind"), ["kind"]), replicas: s.int("replicas", 1, 1, 16), options: s.object("options") ?? {} };
  }
  const urls = f.has("url") ? f.str("url").split(",").map((u) => u.trim()).filter(Boolean) : [];
  urls.forEach((u) => {
    let parsed: URL;
    try { parsed = new URL(u); } catch { return f.fail("url", `${u} is not a URL`); }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") f.fail("url", `${u}: only http and https upstreams are supported`);
    if (parsed.pathname !== "/" || parsed.search) f.fail("url", `${u}: give scheme://host[:port] only; paths come from the plugins`);
  });
  if (!simulator && urls.length === 0) f.fail([], "needs a simulator or a url");
  let health: ClusterSpec["health"] = null;
  const h = f.object("health");
  if (h) {
    const hf = f.child("health", h, ["path", "intervalMs", "timeoutMs"]);
    health = { path: hf.str("path"), intervalMs: hf.int("intervalMs", 2000, 100, 600_000), timeoutMs: hf.int("timeoutMs", 1000, 10, 60_000) };
  }
  const metricsPath = f.has("metrics") ? f.str("metrics") : null;
  return { name, simulator, urls, health, metricsPath, at: { ...gatewayAt, path: f.path } };
}

function simKind(f: Fields, v: string, key: Array<string | number>): SimulatorKind {
  if (!SIMULATORS.includes(v as SimulatorKind)) return f.fail(key, `must be one of ${SIMULATORS.join(", ")}`);
  return v as SimulatorKind;
}

/** Cross-document checks: unique plugin names, and rules that name routes that exist. */
function checkPlugins(r: Reader, c: GatewayConfig): void {
  const names = new Set<string>();
  const routes = new Set(c.routes.map((x) => x.name));
  for (const p of c.plugins) {
    if (names.has(p.name)) r.fail(p.at, ["metadata", "name"], `duplicate WasmPlugin ${p.name}`);
    names.add(p.name);
    p.matchRules.forEach((m, i) => m.ingress.forEach((ing, j) => {
      if (!routes.has(ing)) {
        r.fail(p.at, ["spec", "matchRules", i, "ingress", j], `no route named ${ing} (routes: ${[...routes].join(", ")})`);
      }
    }));
  }
}
