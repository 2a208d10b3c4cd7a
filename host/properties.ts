import { WasmResult, encodePairs } from "./abi.ts";
import type { HeaderMap } from "./headers.ts";

/**
 * Property values as Envoy serializes CEL values for proxy_get_property: strings and bytes raw,
 * integers 8-byte little-endian, bools one byte, timestamps/durations as int64 nanoseconds,
 * maps as header pairs.
 */
type Scalar = string | Buffer | { int: bigint } | { uint: bigint } | boolean;
type Value = Scalar | HeaderMap | Node | Fields;
interface Node { [key: string]: Value | undefined }

/** What the stream contributes (Envoy's StreamInfo plus the filter's current header maps). */
export interface StreamView {
  requestHeaders(): HeaderMap | null;
  responseHeaders(): HeaderMap | null;
  responseTrailers(): HeaderMap | null;
  startNs: bigint;
  endNs: bigint | null;
  responseCode: number | null;
  responseCodeDetails: string | null;
  bytesReceived: number;
  bytesSent: number;
  protocol: string;
  source: string; // "ip:port"
  destination: string;
  upstreamAddress: string | null;
  routeName: string | null;
  clusterName: string | null;
  connectionId: number;
  /** Values stored by proxy_set_property (Envoy keeps them in filter state as "wasm.<path>"). */
  filterState: Map<string, Buffer>;
}

export interface PluginView {
  name: string;
  rootId: string;
  vmId: string;
  nodeId: string;
  nodeCluster: string;
  memoryBytes(): number;
}

const int = (n: number | bigint) => ({ int: BigInt(n) });
const uint = (n: number | bigint) => ({ uint: BigInt(n) });

function port(addr: string): { int: bigint } | undefined {
  const p = Number(addr.slice(addr.lastIndexOf(":") + 1));
  return Number.isFinite(p) ? int(p) : undefined;
}

/** A map attribute whose fields are read from the stream when asked for (request.*, response.*). */
type Resolver = (s: StreamView) => Value | undefined;
class Fields {
  constructor(readonly table: Record<string, Resolver>, readonly s: StreamView) {}
  get(key: string): Value | undefined { return Object.hasOwn(this.table, key) ? this.table[key](this.s) : undefined; }
}

const reqHeader = (s: StreamView, name: string) => s.requestHeaders()?.get(name);

const REQUEST: Record<string, Resolver> = {
  path: (s) => reqHeader(s, ":path"),
  url_path: (s) => reqHeader(s, ":path")?.split("?")[0],
  query: (s) => { const p = reqHeader(s, ":path"); return p === undefined ? undefined : p.includes("?") ? p.slice(p.indexOf("?") + 1) : ""; },
  host: (s) => reqHeader(s, ":authority"),
  scheme: (s) => reqHeader(s, ":scheme"),
  method: (s) => reqHeader(s, ":method"),
  referer: (s) => reqHeader(s, "referer"),
  useragent: (s) => reqHeader(s, "user-agent"),
  id: (s) => reqHeader(s, "x-request-id"),
  headers: (s) => s.requestHeaders() ?? undefined,
  time: (s) => int(s.startNs),
  duration: (s) => (s.endNs === null ? undefined : int(s.endNs - s.startNs)),
  protocol: (s) => s.protocol,
  size: (s) => { const cl = reqHeader(s, "content-length"); return int(cl !== undefined ? Number(cl) : s.bytesReceived); },
  total_size: (s) => int(s.bytesReceived + (s.requestHeaders()?.byteSize() ?? 0)),
};

const RESPONSE: Record<string, Resolver> = {
  code: (s) => (s.responseCode === null ? undefined : int(s.responseCode)),
  code_details: (s) => s.responseCodeDetails ?? undefined,
  flags: () => int(0),
  headers: (s) => s.responseHeaders() ?? undefined,
  trailers: (s) => s.responseTrailers() ?? undefined,
  size: (s) => int(s.bytesSent),
  total_size: (s) => int(s.bytesSent + (s.responseHeaders()?.byteSize() ?? 0)),
};

/**
 * The top-level attributes. A lookup builds only what its path names: building the whole tree,
 * closures included, on every proxy_get_property cost ~16 µs a call under tsx (which names every
 * closure it creates); this costs well under 1 µs.
 */
const TOP: Record<string, (plugin: PluginView, s: StreamView | null) => Value | undefined> = {
  plugin_name: (p) => p.name,
  plugin_root_id: (p) => p.rootId,
  plugin_vm_id: (p) => p.vmId,
  node: (p) => ({ id: p.nodeId, cluster: p.nodeCluster }),
  // Higress: the VM's linear memory size, used by wasm-go to decide on a VM rebuild.
  plugin_vm_memory: (p) => uint(p.memoryBytes()),
  request: (_, s) => (s ? new Fields(REQUEST, s) : undefined),
  response: (_, s) => (s ? new Fields(RESPONSE, s) : undefined),
  source: (_, s) => (s ? { address: s.source, port: port(s.source) } : undefined),
  destination: (_, s) => (s ? { address: s.destination, port: port(s.destination) } : undefined),
  upstream: (_, s) => (s?.upstreamAddress == null ? undefined : { address: s.upstreamAddress, port: port(s.upstreamAddress) }),
  connection: (_, s) => (s ? { id: uint(s.connectionId), mtls: false } : undefined),
  connection_id: (_, s) => (s ? uint(s.connectionId) : undefined),
  route_name: (_, s) => s?.routeName ?? undefined,
  cluster_name: (_, s) => s?.clusterName ?? undefined,
};

function isHeaderMap(v: unknown): v is HeaderMap {
  return typeof v === "object" && v !== null && typeof (v as HeaderMap).pairs === "function" && typeof (v as HeaderMap).getAll === "function";
}

function serialize(v: Value): Buffer | WasmResult {
  if (typeof v === "string") return Buffer.from(v, "utf8");
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === "boolean") return Buffer.from([v ? 1 : 0]);
  if (isHeaderMap(v)) return encodePairs(v.pairs());
  if (v instanceof Fields) {
    const node: Node = {};
    for (const k of Object.keys(v.table)) node[k] = v.get(k);
    return serialize(node);
  }
  if ("int" in v && typeof v.int === "bigint") { const b = Buffer.alloc(8); b.writeBigInt64LE(v.int); return b; }
  if ("uint" in v && typeof v.uint === "bigint") { const b = Buffer.alloc(8); b.writeBigUInt64LE(v.uint); return b; }
  const pairs: Array<[string, string]> = [];
  for (const [k, x] of Object.entries(v as Node)) {
    if (x === undefined) continue;
    const s = serialize(x);
    if (typeof s === "number") return WasmResult.SerializationFailure;
    pairs.push([k, s.toString("latin1")]);
  }
  return encodePairs(pairs);
}

/** Resolves a NUL-separated property path. */
export function getProperty(path: string[], plugin: PluginView, stream: StreamView | null): Buffer | WasmResult {
  if (path.length === 0 || path[0] === "") return WasmResult.NotFound;
  const build = Object.hasOwn(TOP, path[0]) ? TOP[path[0]] : undefined;
  let cur: Value | undefined = build?.(plugin, stream);
  if (cur === undefined) {
    // Unknown top-level names read what proxy_set_property stored; such values are opaque bytes.
    const stored = stream?.filterState.get(path[0]);
    return stored !== undefined && path.length === 1 ? stored : WasmResult.NotFound;
  }
  for (const part of path.slice(1)) {
    if (isHeaderMap(cur) || cur instanceof Fields) {
      cur = cur.get(part);
    } else if (typeof cur === "object" && cur !== null && !Buffer.isBuffer(cur) && !("int" in cur) && !("uint" in cur)) {
      cur = Object.hasOwn(cur, part) ? (cur as Node)[part] : undefined;
    } else {
      return WasmResult.NotFound;
    }
    if (cur === undefined) return WasmResult.NotFound;
  }
  return serialize(cur);
}
