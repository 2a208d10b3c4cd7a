// Shared helpers for host tests: building the test plugins, a recording in-process upstream,
// and reading host-trace callback logs.
import { execFileSync } from "node:child_process";
import { after } from "node:test";
import { Host, type HostOptions, type UpstreamRequest, type UpstreamResponse } from "../../host/index.ts";

export const PROBE = "dist/abi-probe.wasm";
export const TRACE = "dist/host-trace.wasm";
export const TRACE_ABI100 = "dist/host-trace-abi100.wasm";

let built = false;
/** Builds the test plugins (a no-op when dist/ is up to date). */
export function buildTestPlugins(): void {
  if (built) return;
  execFileSync("node", ["scripts/build.mjs", "abi-probe", "host-trace", "host-trace-abi100"], { stdio: "pipe" });
  built = true;
}

/** An in-process upstream that records what it received and echoes it back as JSON. */
export function echoUpstream(respond?: (req: UpstreamRequest) => UpstreamResponse | Promise<UpstreamResponse>) {
  const received: UpstreamRequest[] = [];
  const handler = (req: UpstreamRequest) => {
    received.push(req);
    if (respond) return respond(req);
    return {
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ path: req.path, method: req.method, body: req.body.toString(), headers: Object.fromEntries(req.headers) }),
    };
  };
  return { received, handler };
}

export function newHost(opts: HostOptions = {}): Host {
  return new Host({ logLevel: "trace", ...opts });
}

/** newHost for one test file: every host it makes is closed when the file's tests are done. */
export function hostsClosedAfter(): (opts?: HostOptions) => Host {
  const made: Host[] = [];
  after(() => { for (const h of made) h.close(); });
  return (opts = {}) => {
    const h = newHost(opts);
    made.push(h);
    return h;
  };
}

/** host-trace log lines (without the plugin's own prefix machinery), in order. */
export function trace(host: Host): string[] {
  return host.logs().map((e) => e.message.replace(/^\[[^\]]*\] /, "")).filter((m) => /^\S+ (req_|resp_|log|done|resume)/.test(m));
}

export function header(pairs: Array<[string, string]>, name: string): string | undefined {
  return pairs.find(([k]) => k === name)?.[1];
}

/** A minimal wasm module with the given function imports and (empty) function exports. */
export function tinyModule(imports: Array<[string, string]>, exports: string[]): Uint8Array {
  const str = (s: string) => [s.length, ...Buffer.from(s)];
  const vec = (items: number[][]) => [items.length, ...items.flat()];
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, 0x00, 0x00]])),
    ...section(2, vec(imports.map(([m, n]) => [...str(m), ...str(n), 0x00, 0x00]))),
    ...section(3, vec(exports.map(() => [0x00]))),
    ...section(7, vec(exports.map((e, i) => [...str(e), 0x00, imports.length + i]))),
    ...section(10, vec(exports.map(() => [0x02, 0x00, 0x0b]))),
  ];
  return new Uint8Array(bytes);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
