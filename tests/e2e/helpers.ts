// The seeds' demos run against the gateway `npm start` runs: the default gateway.yaml, loaded with a
// clean environment, simulators sped up. A test may adjust the loaded config (e.g. a smaller limit).
import { execFileSync } from "node:child_process";
import type { SimServer } from "../../e2e/sim/common.ts";
import { type GatewayConfig, loadConfigFile } from "../../host/gateway/config.ts";
import { DEFAULT_CONFIG, type Gateway, type GatewayOptions, startGateway } from "../../host/gateway/gateway.ts";
import type { AccessRecord } from "../../host/gateway/observe.ts";
import { sign } from "../hmac-auth/signer.ts";

/** The Dify consumer of gateway.yaml (its defaults; the tests load the file with an empty environment). */
export const DIFY_AGENT = { name: "dify-agent", key: "dify-agent-ak", secret: "dify-agent-sk-change-me", apiKey: "sk-dify-agent-change-me" };

let built = false;
/**
 * Builds the plugins once per test process (a no-op when dist/ is current; `npm test` builds first).
 * A plugin that does not compile leaves its last build in dist/: the demos run on that, with a warning.
 */
export function buildPlugins(): void {
  if (built) return;
  built = true;
  try {
    execFileSync("node", ["scripts/build.mjs"], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    process.stderr.write(`warning: plugin build failed, using the wasm already in dist/:\n${String((e as { stderr?: Buffer }).stderr ?? e).slice(-2000)}\n`);
  }
}

export function defaultConfig(): GatewayConfig {
  return loadConfigFile(DEFAULT_CONFIG, { env: {} });
}

/** The config object of `plugin`'s matchRule for `route` (short name), for a test to adjust. */
export function ruleConfig(cfg: GatewayConfig, plugin: string, route: string): Record<string, any> {
  const p = cfg.plugins.find((x) => x.name === plugin);
  const rule = p?.matchRules.find((m) => m.ingress.includes(`${cfg.namespace}/${route}`));
  if (!rule) throw new Error(`gateway.yaml has no ${plugin} rule for route ${route}`);
  return rule.config as Record<string, any>;
}

export interface Demo {
  gw: Gateway;
  url: string;
  records: AccessRecord[];
  /** The simulators of a cluster (by the service part of its name: "dashscope", "vllm", ...). */
  sims(service: string): SimServer[];
  /** Resolves with the first access record (already logged or still to come) that satisfies `pred`. */
  record(pred: (r: AccessRecord) => boolean): Promise<AccessRecord>;
  close(): Promise<void>;
}

export async function startDemo(adjust?: (cfg: GatewayConfig) => void, opts: GatewayOptions = {}): Promise<Demo> {
  buildPlugins();
  const config = defaultConfig();
  adjust?.(config);
  const gw = await startGateway({ config, port: 0, accessLog: null, sim: { timeScale: 0.01 }, printLogs: "error", ...opts });
  const records: AccessRecord[] = [];
  const waiters: Array<{ pred: (r: AccessRecord) => boolean; resolve: (r: AccessRecord) => void }> = [];
  gw.onAccess((r) => {
    records.push(r);
    for (const w of [...waiters]) if (w.pred(r)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(r); }
  });
  return {
    gw, url: gw.url, records,
    sims: (service) => {
      const name = Object.keys(gw.sims).find((n) => n.endsWith(`||${service}.dns`));
      if (!name) throw new Error(`no cluster for ${service}`);
      return gw.sims[name];
    },
    record: (pred) => {
      const found = records.find(pred);
      return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ pred, resolve }));
    },
    close: () => gw.close(),
  };
}

/**
 * A fetch that signs every request the way the Higress Dify plugin's HmacAuthenticator does
 * (x-ca-* headers and Date over method, Accept, Content-Type and the path with query; no
 * Content-MD5) and sends no Authorization header, as the plugin does in hmac mode.
 */
export function difyHmacFetch(consumer = DIFY_AGENT): typeof fetch {
  return async (input, init = {}) => {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.delete("authorization");
    const signed = sign({
      method: init.method ?? "GET", path: url.pathname + url.search, key: consumer.key, secret: consumer.secret,
      headers: { accept: headers.get("accept") ?? "", "content-type": headers.get("content-type") ?? "" },
    });
    for (const [k, v] of Object.entries(signed.headers)) if (k.startsWith("x-ca-") || k === "date") headers.set(k, v);
    return fetch(url, { ...init, headers });
  };
}

// A POST exactly as the Dify plugin's `requests.post` sends it: a JSON body, "Accept: */*", HMAC-signed.
export function difyPost(url: string, body: unknown, consumer = DIFY_AGENT): Promise<Response> {
  return difyHmacFetch(consumer)(url, {
    method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", accept: "*/*" },
  });
}

/** Splits an SSE body into the JSON of its data lines (Dify's own parsing: skip comments and [DONE]). */
export function sseJson(text: string): any[] {
  return text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim())
    .filter((d) => d && d !== "[DONE]").map((d) => JSON.parse(d));
}

/** The value of a Prometheus sample, 0 when absent. */
export async function metric(demo: Demo, name: string): Promise<number> {
  const text = await (await fetch(`${demo.url}/stats/prometheus`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}
