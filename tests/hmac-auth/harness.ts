// A host with dist/hmac-auth.wasm in front of a recording upstream, for the hmac-auth tests.
import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";
import { Host, type HostOptions, type HostResponse, type RequestInit, type UpstreamRequest } from "../../host/index.ts";

export const WASM = "dist/hmac-auth.wasm";
export const CONSUMERS = [
  { name: "dify", key: "ak-dify", secret: "sk-dify-0123456789" },
  { name: "ops", key: "ak-ops", secret: "sk-ops-秘密" },
];

let built = false;
export function buildPlugin(): void {
  if (built) return;
  execFileSync("node", ["scripts/build.mjs", "hmac-auth"], { stdio: "pipe" });
  built = true;
}

export interface Gateway {
  host: Host;
  received: UpstreamRequest[];
  send(init: RequestInit): Promise<HostResponse>;
  /** The last request the upstream saw, as name → first value. */
  lastHeaders(): Record<string, string>;
  close(): void;
}

export interface GatewayOptions {
  routes?: string[];
  host?: HostOptions;
  vms?: number;
}

/** One host, the plugin with `config`, and one route per name (matched by path prefix /<name>/ after the first). */
export async function gateway(config: unknown, opts: GatewayOptions = {}): Promise<Gateway> {
  buildPlugin();
  const host = new Host({ logLevel: "info", ...opts.host });
  const received: UpstreamRequest[] = [];
  host.addCluster("upstream", {
    handler: (req) => {
      received.push(req);
      return { status: 200, headers: { "content-type": "text/plain" }, body: "upstream ok" };
    },
  });
  await host.addPlugin({ name: "hmac-auth", wasm: WASM, phase: "AUTHN", priority: 330, config, vms: opts.vms ?? 1 });
  const routes = opts.routes ?? ["default"];
  routes.forEach((name, i) => host.addRoute({ name, cluster: "upstream", match: i === routes.length - 1 ? { prefix: "/" } : { prefix: `/${name}/` } }));
  return {
    host,
    received,
    send: (init) => host.request(init),
    lastHeaders: () => {
      const last = received[received.length - 1];
      assert.ok(last, "the upstream saw no request");
      const out: Record<string, string> = {};
      for (const [k, v] of last.headers) if (!(k in out)) out[k] = v;
      return out;
    },
    close: () => {
      assert.equal(host.trapCount(), 0, "the plugin trapped");
      host.close();
    },
  };
}

/** Asserts a local reply with Higress's status and message, as a JSON error body. */
export function assertDenied(r: HostResponse, status: number, message: string): void {
  assert.equal(r.status, status, `expected ${status} ${message}, got ${r.status} ${r.text}`);
  assert.equal(r.localReply, true);
  const body = r.json<{ error: { message: string } }>();
  assert.equal(body.error.message, message);
}
