// The functions Envoy calls: context creation, lifecycle and stream callbacks, call replies, malloc.
// Plugins re-export exports.ts (this module plus the ABI markers); a test module that must be a plain
// ABI 0.2.1 module re-exports this one and declares its own marker.
import { HeaderAction, DataAction, BufferType } from "./abi";
import { getBuffer, fromUtf8, refreshLogLevel } from "./hostcalls";
import "./abort"; // the abort handler must be part of every module
import {
  roots, streams, newRoot, enterStream, leaveStream, deliverHttpCallResponse, deliverRedisResponse, RootContext,
} from "./context";

/** The host allocates guest memory here for data it returns; hostcalls.ts frees it after copying. */
export function malloc(size: usize): usize { return heap.alloc(size); }
export function proxy_on_memory_allocate(size: usize): usize { return heap.alloc(size); }

export function proxy_on_context_create(id: u32, parent: u32): void {
  if (parent == 0) { roots.set(id, newRoot(id)); return; }
  if (!roots.has(parent)) return;
  streams.set(id, roots.get(parent).newHttpContext(id));
}

function root(id: u32): RootContext | null { return roots.has(id) ? roots.get(id) : null; }

export function proxy_on_vm_start(id: u32, size: u32): bool {
  const r = root(id);
  return r == null ? true : r.onVmStart();
}
export function proxy_on_configure(id: u32, size: u32): bool {
  const r = root(id);
  if (r == null) return false;
  refreshLogLevel();
  const b = size > 0 ? getBuffer(BufferType.PluginConfiguration, 0, <i32>size) : null;
  return r.onConfigure(b == null ? "" : fromUtf8(b));
}
export function proxy_on_tick(id: u32): void {
  const r = root(id);
  if (r != null) { leaveStream(); r.onTick(); }
}
export function proxy_on_queue_ready(id: u32, token: u32): void {
  const r = root(id);
  if (r != null) { leaveStream(); r.onQueueReady(token); }
}

export function proxy_on_request_headers(id: u32, n: u32, eos: u32): u32 {
  if (!streams.has(id)) return HeaderAction.Continue;
  enterStream(id);
  const a = streams.get(id).onRequestHeaders(n, eos != 0);
  leaveStream();
  return a;
}
export function proxy_on_request_body(id: u32, size: u32, eos: u32): u32 {
  if (!streams.has(id)) return DataAction.Continue;
  enterStream(id);
  const a = streams.get(id).onRequestBody(size, eos != 0);
  leaveStream();
  return a;
}
export function proxy_on_request_trailers(id: u32, n: u32): u32 {
  if (!streams.has(id)) return HeaderAction.Continue;
  enterStream(id);
  const a = streams.get(id).onRequestTrailers(n);
  leaveStream();
  return a;
}
export function proxy_on_response_headers(id: u32, n: u32, eos: u32): u32 {
  if (!streams.has(id)) return HeaderAction.Continue;
  enterStream(id);
  const a = streams.get(id).onResponseHeaders(n, eos != 0);
  leaveStream();
  return a;
}
export function proxy_on_response_body(id: u32, size: u32, eos: u32): u32 {
  if (!streams.has(id)) return DataAction.Continue;
  enterStream(id);
  const a = streams.get(id).onResponseBody(size, eos != 0);
  leaveStream();
  return a;
}
export function proxy_on_response_trailers(id: u32, n: u32): u32 {
  if (!streams.has(id)) return HeaderAction.Continue;
  enterStream(id);
  const a = streams.get(id).onResponseTrailers(n);
  leaveStream();
  return a;
}
export function proxy_on_log(id: u32): void {
  if (!streams.has(id)) return;
  enterStream(id);
  streams.get(id).onLog();
  leaveStream();
}
export function proxy_on_done(id: u32): bool {
  if (streams.has(id)) { enterStream(id); streams.get(id).onDone(); leaveStream(); }
  return true;
}
export function proxy_on_delete(id: u32): void {
  if (streams.has(id)) streams.delete(id);
  else if (roots.has(id)) roots.delete(id);
}

export function proxy_on_http_call_response(rootId: u32, token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  deliverHttpCallResponse(token, numHeaders, bodySize, numTrailers);
}
/** Higress extension: a reply (or connection failure, status != 0) to proxy_redis_call. */
export function proxy_on_redis_call_response(rootId: u32, token: u32, status: u32, size: u32): void {
  deliverRedisResponse(token, status, size);
}
