// Root and HTTP contexts as small classes a plugin extends, plus the dispatch of
// outbound-call responses back to the stream that made the call.
import { DataAction, HeaderAction, BufferType, MapType, proxy_set_effective_context } from "./abi";
import { Header, getBuffer, getHeaders, rawHttpCall, rawRedisCall, logWarn } from "./hostcalls";

/** One per plugin instance (per VM); receives configuration, ticks and queue events. */
export class RootContext {
  constructor(public id: u32) {}
  onVmStart(): bool { return true; }
  /** Return false to refuse the configuration (Envoy then rejects the plugin). */
  onConfigure(config: string): bool { return true; }
  onTick(): void {}
  onQueueReady(token: u32): void {}
  newHttpContext(id: u32): HttpContext { return new HttpContext(id, this); }
}

/** One per HTTP stream. Defaults let every phase continue untouched. */
export class HttpContext {
  constructor(public id: u32, public root: RootContext) {}
  onRequestHeaders(numHeaders: u32, endOfStream: bool): HeaderAction { return HeaderAction.Continue; }
  onRequestBody(bodySize: u32, endOfStream: bool): DataAction { return DataAction.Continue; }
  onRequestTrailers(numTrailers: u32): HeaderAction { return HeaderAction.Continue; }
  onResponseHeaders(numHeaders: u32, endOfStream: bool): HeaderAction { return HeaderAction.Continue; }
  onResponseBody(bodySize: u32, endOfStream: bool): DataAction { return DataAction.Continue; }
  onResponseTrailers(numTrailers: u32): HeaderAction { return HeaderAction.Continue; }
  /** Access-log time: the stream is complete (or was aborted by the client). */
  onLog(): void {}
  /** The stream is gone; release anything it held (reservations, counters). */
  onDone(): void {}
}

/** Receives the response of httpCall(); runs with the calling stream as effective context. */
export abstract class HttpCallCallback {
  abstract onHttpCallResponse(numHeaders: u32, bodySize: u32, numTrailers: u32): void;
}
/** Receives a Redis reply; status 0 means a reply arrived (which may itself be a RESP error). */
export abstract class RedisCallback {
  abstract onRedisResponse(status: u32, reply: ArrayBuffer): void;
}

// ---- registries (exports.ts feeds them)
export type RootFactory = (id: u32) => RootContext;
let rootFactory: RootFactory | null = null;
export function registerRootContext(factory: RootFactory): void { rootFactory = factory; }
export function hasRootFactory(): bool { return rootFactory != null; }
export function newRoot(id: u32): RootContext {
  const f = rootFactory;
  return f == null ? new RootContext(id) : f(id);
}

export const roots = new Map<u32, RootContext>();
export const streams = new Map<u32, HttpContext>();
/** The stream whose callback is running now (0 in root callbacks): outbound calls belong to it. */
let currentStream: u32 = 0;
export function enterStream(id: u32): void { currentStream = id; }
export function leaveStream(): void { currentStream = 0; }
/** The stream whose callback is running (0 in root callbacks). */
export function currentStreamId(): u32 { return currentStream; }

class PendingHttp { constructor(public stream: u32, public cb: HttpCallCallback) {} }
class PendingRedis { constructor(public stream: u32, public cb: RedisCallback) {} }
const pendingHttp = new Map<u32, PendingHttp>();
const pendingRedis = new Map<u32, PendingRedis>();

/**
 * Dispatches an HTTP call; false when the host refused it (the callback will never run).
 * The reply goes to the calling stream and is dropped if that stream ended; with `outlivesStream`
 * it is delivered in the root context even then (for work that must finish, e.g. reconciling a charge).
 */
export function httpCall(cluster: string, headers: Header[], body: ArrayBuffer | null, timeoutMs: u32, cb: HttpCallCallback, outlivesStream: bool = false): bool {
  const token = rawHttpCall(cluster, headers, body, timeoutMs);
  if (token == 0) { logWarn("http call to " + cluster + " refused by host"); return false; }
  pendingHttp.set(token, new PendingHttp(outlivesStream ? 0 : currentStream, cb));
  return true;
}
/** Sends a RESP query; the reply is routed like httpCall's (see `outlivesStream` there). */
export function redisCall(cluster: string, query: ArrayBuffer, cb: RedisCallback, outlivesStream: bool = false): bool {
  const token = rawRedisCall(cluster, query);
  if (token == 0) return false;
  pendingRedis.set(token, new PendingRedis(outlivesStream ? 0 : currentStream, cb));
  return true;
}

/**
 * Makes stream `stream` the effective context, so host calls from a root callback (tick, queue, a
 * reply that outlived its stream) act on it; false when it has ended. 0 (the root) always succeeds.
 */
export function actOnStream(stream: u32): bool { return resumeOwner(stream); }

function resumeOwner(stream: u32): bool {
  if (stream == 0) return true;
  if (!streams.has(stream)) return false;
  proxy_set_effective_context(stream);
  currentStream = stream;
  return true;
}

export function deliverHttpCallResponse(token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  if (!pendingHttp.has(token)) return;
  const p = pendingHttp.get(token);
  pendingHttp.delete(token);
  if (resumeOwner(p.stream)) p.cb.onHttpCallResponse(numHeaders, bodySize, numTrailers);
  currentStream = 0;
}
export function deliverRedisResponse(token: u32, status: u32, size: u32): void {
  if (!pendingRedis.has(token)) return;
  const p = pendingRedis.get(token);
  pendingRedis.delete(token);
  let reply = size > 0 ? getBuffer(BufferType.RedisCallResponse, 0, <i32>size) : null;
  if (reply == null) reply = new ArrayBuffer(0);
  if (resumeOwner(p.stream)) p.cb.onRedisResponse(status, reply);
  currentStream = 0;
}

/** Inside onHttpCallResponse: the response's headers, body. */
export function httpCallResponseHeaders(): Header[] { return getHeaders(MapType.HttpCallResponseHeaders); }
export function httpCallResponseBody(size: u32): ArrayBuffer {
  const b = size > 0 ? getBuffer(BufferType.HttpCallResponseBody, 0, <i32>size) : null;
  return b == null ? new ArrayBuffer(0) : b;
}
export function httpCallResponseStatus(headers: Header[]): i32 {
  for (let i = 0; i < headers.length; i++) {
    if (headers[i].name == ":status") return I32.parseInt(headers[i].value);
  }
  return 0;
}
