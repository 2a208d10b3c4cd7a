import { WasmResult, encodePairs } from "./abi.ts";
import type { HeaderMap } from "./headers.ts";

/**
 * Property values as Envoy serializes CEL values for proxy_get_property: strings and bytes raw,
 * integers 8-byte little-endian, bools one byte, timestamps/durations as int64 nanoseconds,
 * maps as header pairs.
 */
type Scalar = string | Buffer | { int: bigint } | { uint: bigint } | boolean;
type Value = Scalar | HeaderMap | Node;
interface Node { [key: string]: Value | undefined | (() => Value | undefined) }

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

function tree(plugin: PluginView, s: StreamView | null): Node {
  const root: Node = {
    plugin_name: plugin.name,
    plugin_root_id: plugin.rootId,
    plugin_vm_id: plugin.vmId,
    node: { id: plugin.nodeId, cluster: plugin.nodeCluster },
    // Higress: the VM's linear memory size, used by wasm-go to decide on a VM rebuild.
    plugin_vm_memory: () => uint(plugin.memoryBytes()),
  };
  if (!s) return root;
  const rq = () => s.requestHeaders();
  const header = (name: string) => () => rq()?.get(name);
  const path = () => rq()?.get(":path");
  Object.assign(root, {
    request: {
      path,
      url_path: () => path()?.split("?")[0],
      query: () => { const p = path(); return p === undefined ? undefined : p.includes("?") ? p.slice(p.indexOf("?") + 1) : ""; },
      host: header(":authority"),
      scheme: header(":scheme"),
      method: header(":method"),
      referer: header("referer"),
      useragent: header("user-agent"),
      id: header("x-request-id"),
      headers: () => rq() ?? undefined,
      time: int(s.startNs),
      duration: () => (s.endNs === null ? undefined : int(s.endNs - s.startNs)),
      protocol: s.protocol,
      size: () => { const cl = rq()?.get("content-length"); return int(cl !== undefined ? Number(cl) : s.bytesReceived); },
      total_size: () => int(s.bytesReceived + (rq()?.byteSize() ?? 0)),
    },
    response: {
      code: () => (s.responseCode === null ? undefined : int(s.responseCode)),
      code_details: () => s.responseCodeDetails ?? undefined,
      flags: int(0),
      headers: () => s.responseHeaders() ?? undefined,
      trailers: () => s.responseTrailers() ?? undefined,
      size: () => int(s.bytesSent),
      total_size: () => int(s.bytesSent + (s.responseHeaders()?.byteSize() ?? 0)),
    },
    source: { address: s.source, port: port(s.source) },
    destination: { address: s.destination, port: port(s.destination) },
    upstream: () => (s.upstreamAddress === null ? undefined : { address: s.upstreamAddress, port: port(s.upstreamAddress) }),
    connection: { id: uint(s.connectionId), mtls: false },
    connection_id: uint(s.connectionId),
    route_name: () => s.routeName ?? undefined,
    cluster_name: () => s.clusterName ?? undefined,
  });
  return root;
}

function isHeaderMap(v: unknown): v is HeaderMap {
  return typeof v === "object" && v !== null && typeof (v as HeaderMap).pairs === "function" && typeof (v as HeaderMap).getAll === "function";
}

function serialize(v: Value): Buffer | WasmResult {
  if (typeof v === "string") return Buffer.from(v, "utf8");
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === "boolean") return Buffer.from([v ? 1 : 0]);
  if (isHeaderMap(v)) return encodePairs(v.pairs());
  if ("int" in v && typeof v.int === "bigint") { const b = Buffer.alloc(8); b.writeBigInt64LE(v.int); return b; }
  if ("uint" in v && typeof v.uint === "bigint") { const b = Buffer.alloc(8); b.writeBigUInt64LE(v.uint); return b; }
  const pairs: Array<[string, string]> = [];
  for (const [k, raw] of Object.entries(v as Node)) {
    const x = typeof raw === "function" ? raw() : raw;
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
  let cur: Value | undefined = tree(plugin, stream)[path[0]] as Value | undefined;
  if (typeof cur === "function") cur = (cur as () => Value | undefined)();
  if (cur === undefined) {
    // Unknown top-level names read what proxy_set_property stored; such values are opaque bytes.
    const stored = stream?.filterState.get(path[0]);
    return stored !== undefined && path.length === 1 ? stored : WasmResult.NotFound;
  }
  for (const part of path.slice(1)) {
    if (isHeaderMap(cur)) {
      cur = cur.get(part);
    } else if (typeof cur === "object" && cur !== null && !Buffer.isBuffer(cur) && !("int" in cur) && !("uint" in cur)) {
      const next: Node[string] = (cur as Node)[part];
      cur = typeof next === "function" ? next() : next;
    } else {
      return WasmResult.NotFound;
    }
    if (cur === undefined) return WasmResult.NotFound;
  }
  return serialize(cur);
}
