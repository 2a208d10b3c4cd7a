// Typed wrappers over the raw ABI (abi.ts). Every wrapper tolerates host failure:
// it returns null / a WasmResult instead of aborting, because a trap kills the VM.
import {
  BufferType, LogLevel, MapType, MetricType, StreamType, WasmResult,
  proxy_add_header_map_value, proxy_continue_stream, proxy_define_metric, proxy_dequeue_shared_queue,
  proxy_enqueue_shared_queue, proxy_get_buffer_bytes, proxy_get_buffer_status, proxy_get_current_time_nanoseconds,
  proxy_get_header_map_pairs, proxy_get_header_map_value, proxy_get_metric, proxy_get_property,
  proxy_get_shared_data, proxy_get_upstream_hosts, proxy_increment_metric, proxy_log, proxy_record_metric,
  proxy_redis_call, proxy_redis_init, proxy_register_shared_queue, proxy_remove_header_map_value,
  proxy_replace_header_map_value, proxy_resolve_shared_queue, proxy_send_local_response, proxy_set_buffer_bytes,
  proxy_set_header_map_pairs, proxy_set_property, proxy_set_shared_data, proxy_set_tick_period_milliseconds,
  proxy_set_upstream_override_host, proxy_http_call, proxy_get_header_map_size, proxy_close_stream, proxy_get_log_level,
} from "./abi";

// Out-parameter slots the host writes into (pointer + size, or a u32/u64 value).
const OUT_PTR: usize = memory.data(8);
const OUT_LEN: usize = memory.data(8);
const OUT_EXTRA: usize = memory.data(8);

/** Copies host-allocated bytes (from our malloc) into a managed buffer and frees them. */
function takeOut(): ArrayBuffer {
  const ptr = load<usize>(OUT_PTR);
  const len = <i32>load<u32>(OUT_LEN);
  const buf = new ArrayBuffer(len);
  if (ptr != 0) {
    if (len > 0) memory.copy(changetype<usize>(buf), ptr, len);
    heap.free(ptr);
  }
  return buf;
}
function clearOut(): void { store<usize>(OUT_PTR, 0); store<u32>(OUT_LEN, 0); }

@inline function ptrOf(b: ArrayBuffer): usize { return changetype<usize>(b); }
export function utf8(s: string): ArrayBuffer { return String.UTF8.encode(s); }
export function fromUtf8(b: ArrayBuffer): string { return String.UTF8.decode(b); }

// ---------------------------------------------------------------- logging
// Messages below the host's level are dropped here, before their text is built into bytes.
let logLevel: i32 = LogLevel.Info;
export function setLogLevel(level: LogLevel): void { logLevel = level; }
/** Reads the host's current level (Envoy's can change at run time); called at every configure. */
export function refreshLogLevel(): void {
  store<u32>(OUT_EXTRA, <u32>LogLevel.Info);
  if (proxy_get_log_level(OUT_EXTRA) == WasmResult.Ok) logLevel = <i32>load<u32>(OUT_EXTRA);
}
export function logEnabled(level: LogLevel): bool { return <i32>level >= logLevel; }
/** Prefix for every log line of this module (the plugin name), set once at start. */
let logPrefix: string = "";
export function setLogPrefix(p: string): void { logPrefix = p.length ? "[" + p + "] " : ""; }
export function log(level: LogLevel, msg: string): void {
  if (<i32>level < logLevel) return;
  const b = utf8(logPrefix + msg);
  proxy_log(level, ptrOf(b), b.byteLength);
}
export function logDebug(msg: string): void { log(LogLevel.Debug, msg); }
export function logInfo(msg: string): void { log(LogLevel.Info, msg); }
export function logWarn(msg: string): void { log(LogLevel.Warn, msg); }
export function logError(msg: string): void { log(LogLevel.Error, msg); }

// ---------------------------------------------------------------- time and ticks
export function nowNanos(): u64 {
  store<u64>(OUT_EXTRA, 0);
  proxy_get_current_time_nanoseconds(OUT_EXTRA);
  return load<u64>(OUT_EXTRA);
}
export function nowMillis(): i64 { return <i64>(nowNanos() / 1000000); }
export function setTickPeriod(ms: u32): WasmResult { return <WasmResult>proxy_set_tick_period_milliseconds(ms); }

// ---------------------------------------------------------------- header maps
export class Header {
  constructor(public name: string, public value: string) {}
}

/** proxy-wasm pair serialization: u32 count, (u32 klen, u32 vlen)*, then each key and value NUL-terminated. */
export function serializeHeaders(headers: Header[]): ArrayBuffer {
  const keys = new Array<ArrayBuffer>(headers.length);
  const vals = new Array<ArrayBuffer>(headers.length);
  let size = 4 + headers.length * 8;
  for (let i = 0; i < headers.length; i++) {
    keys[i] = utf8(headers[i].name.toLowerCase());
    vals[i] = utf8(headers[i].value);
    size += keys[i].byteLength + vals[i].byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, headers.length);
  let p = base + 4;
  for (let i = 0; i < headers.length; i++) {
    store<u32>(p, keys[i].byteLength); store<u32>(p + 4, vals[i].byteLength); p += 8;
  }
  for (let i = 0; i < headers.length; i++) {
    memory.copy(p, changetype<usize>(keys[i]), keys[i].byteLength); p += keys[i].byteLength; store<u8>(p, 0); p++;
    memory.copy(p, changetype<usize>(vals[i]), vals[i].byteLength); p += vals[i].byteLength; store<u8>(p, 0); p++;
  }
  return out;
}

/** Inverse of serializeHeaders; malformed input yields the pairs that were complete. */
export function deserializeHeaders(buf: ArrayBuffer): Header[] {
  const out = new Array<Header>();
  const len = buf.byteLength;
  if (len < 4) return out;
  const base = changetype<usize>(buf);
  const n = load<u32>(base);
  if (<u64>n * 8 + 4 > <u64>len) return out;
  let p: usize = 4 + <usize>n * 8;
  for (let i: u32 = 0; i < n; i++) {
    const kl = <usize>load<u32>(base + 4 + <usize>i * 8);
    const vl = <usize>load<u32>(base + 8 + <usize>i * 8);
    if (<u64>p + <u64>kl + <u64>vl + 2 > <u64>len) break;
    const k = String.UTF8.decodeUnsafe(base + p, kl); p += kl + 1;
    const v = String.UTF8.decodeUnsafe(base + p, vl); p += vl + 1;
    out.push(new Header(k, v));
  }
  return out;
}

export function getHeaders(map: MapType): Header[] {
  clearOut();
  if (proxy_get_header_map_pairs(map, OUT_PTR, OUT_LEN) != WasmResult.Ok) return new Array<Header>();
  return deserializeHeaders(takeOut());
}
export function setHeaders(map: MapType, headers: Header[]): WasmResult {
  const b = serializeHeaders(headers);
  return <WasmResult>proxy_set_header_map_pairs(map, ptrOf(b), b.byteLength);
}
/** The first value of a header, or null when absent. */
export function getHeader(map: MapType, name: string): string | null {
  const k = utf8(name);
  clearOut();
  if (proxy_get_header_map_value(map, ptrOf(k), k.byteLength, OUT_PTR, OUT_LEN) != WasmResult.Ok) return null;
  if (load<usize>(OUT_PTR) == 0 && load<u32>(OUT_LEN) == 0) return null;
  return fromUtf8(takeOut());
}
export function replaceHeader(map: MapType, name: string, value: string): WasmResult {
  const k = utf8(name); const v = utf8(value);
  return <WasmResult>proxy_replace_header_map_value(map, ptrOf(k), k.byteLength, ptrOf(v), v.byteLength);
}
export function addHeader(map: MapType, name: string, value: string): WasmResult {
  const k = utf8(name); const v = utf8(value);
  return <WasmResult>proxy_add_header_map_value(map, ptrOf(k), k.byteLength, ptrOf(v), v.byteLength);
}
export function removeHeader(map: MapType, name: string): WasmResult {
  const k = utf8(name);
  return <WasmResult>proxy_remove_header_map_value(map, ptrOf(k), k.byteLength);
}
/** The map's size in bytes, as Envoy's proxy_get_header_map_size answers (not a header count). */
export function headerMapByteSize(map: MapType): i32 {
  store<u32>(OUT_EXTRA, 0);
  if (proxy_get_header_map_size(map, OUT_EXTRA) != WasmResult.Ok) return 0;
  return <i32>load<u32>(OUT_EXTRA);
}

// Shorthands for the maps plugins use most.
export function requestHeader(name: string): string | null { return getHeader(MapType.RequestHeaders, name); }
export function responseHeader(name: string): string | null { return getHeader(MapType.ResponseHeaders, name); }

// ---------------------------------------------------------------- buffers (bodies, config, call responses)
/** Bytes [start, start+max) of a buffer; null when the buffer is absent. */
export function getBuffer(type: BufferType, start: i32 = 0, max: i32 = i32.MAX_VALUE): ArrayBuffer | null {
  clearOut();
  const r = proxy_get_buffer_bytes(type, <u32>start, <u32>max, OUT_PTR, OUT_LEN);
  if (r != WasmResult.Ok) return null;
  return takeOut();
}
export function bufferSize(type: BufferType): i32 {
  store<u32>(OUT_PTR, 0); store<u32>(OUT_LEN, 0);
  if (proxy_get_buffer_status(type, OUT_PTR, OUT_LEN) != WasmResult.Ok) return 0;
  return <i32>load<u32>(OUT_PTR);
}
/** Replaces the whole buffer (the request/response body in a body callback). */
export function setBuffer(type: BufferType, data: ArrayBuffer): WasmResult {
  return <WasmResult>proxy_set_buffer_bytes(type, 0, <u32>i32.MAX_VALUE, ptrOf(data), data.byteLength);
}
export function appendBuffer(type: BufferType, data: ArrayBuffer): WasmResult {
  return <WasmResult>proxy_set_buffer_bytes(type, <u32>i32.MAX_VALUE, 0, ptrOf(data), data.byteLength);
}

// ---------------------------------------------------------------- properties
/** Property path "a.b.c" → "a\0b\0c", as Envoy expects. */
function propertyPath(path: string): ArrayBuffer { return utf8(path.replaceAll(".", "\0")); }
export function getProperty(path: string): ArrayBuffer | null {
  const p = propertyPath(path);
  clearOut();
  if (proxy_get_property(ptrOf(p), p.byteLength, OUT_PTR, OUT_LEN) != WasmResult.Ok) return null;
  return takeOut();
}
export function getPropertyString(path: string): string | null {
  const b = getProperty(path);
  return b == null ? null : fromUtf8(b);
}
/** Integer properties are 8-byte little-endian in Envoy. */
export function getPropertyInt(path: string, def: i64 = 0): i64 {
  const b = getProperty(path);
  if (b == null || b.byteLength < 8) return def;
  return load<i64>(changetype<usize>(b));
}
export function setProperty(path: string, value: string): WasmResult {
  const p = propertyPath(path); const v = utf8(value);
  return <WasmResult>proxy_set_property(ptrOf(p), p.byteLength, ptrOf(v), v.byteLength);
}

// ---------------------------------------------------------------- stream control
export function continueRequest(): WasmResult { return <WasmResult>proxy_continue_stream(StreamType.Request); }
export function continueResponse(): WasmResult { return <WasmResult>proxy_continue_stream(StreamType.Response); }
export function closeRequest(): WasmResult { return <WasmResult>proxy_close_stream(StreamType.Request); }

/** Ends the stream with a reply generated here; the upstream is not (or no longer) involved. */
export function sendLocalResponse(status: u32, body: string, headers: Header[] = [], details: string = ""): WasmResult {
  const b = utf8(body); const d = utf8(details); const h = serializeHeaders(headers);
  return <WasmResult>proxy_send_local_response(status, ptrOf(d), d.byteLength, ptrOf(b), b.byteLength, ptrOf(h), h.byteLength, -1);
}

// ---------------------------------------------------------------- shared data and queues
export class SharedValue {
  constructor(public data: ArrayBuffer, public cas: u32) {}
}
/** null when the key is absent (or the host refused). */
export function getSharedData(key: string): SharedValue | null {
  const k = utf8(key);
  clearOut(); store<u32>(OUT_EXTRA, 0);
  if (proxy_get_shared_data(ptrOf(k), k.byteLength, OUT_PTR, OUT_LEN, OUT_EXTRA) != WasmResult.Ok) return null;
  const cas = load<u32>(OUT_EXTRA);
  return new SharedValue(takeOut(), cas);
}
/** cas 0 writes unconditionally; otherwise CasMismatch when another VM wrote first. */
export function setSharedData(key: string, data: ArrayBuffer, cas: u32 = 0): WasmResult {
  const k = utf8(key);
  return <WasmResult>proxy_set_shared_data(ptrOf(k), k.byteLength, ptrOf(data), data.byteLength, cas);
}
export function registerQueue(name: string): u32 {
  const n = utf8(name); store<u32>(OUT_EXTRA, 0);
  if (proxy_register_shared_queue(ptrOf(n), n.byteLength, OUT_EXTRA) != WasmResult.Ok) return 0;
  return load<u32>(OUT_EXTRA);
}
export function resolveQueue(vmId: string, name: string): u32 {
  const v = utf8(vmId); const n = utf8(name); store<u32>(OUT_EXTRA, 0);
  if (proxy_resolve_shared_queue(ptrOf(v), v.byteLength, ptrOf(n), n.byteLength, OUT_EXTRA) != WasmResult.Ok) return 0;
  return load<u32>(OUT_EXTRA);
}
export function enqueue(token: u32, data: ArrayBuffer): WasmResult {
  return <WasmResult>proxy_enqueue_shared_queue(token, ptrOf(data), data.byteLength);
}
export function dequeue(token: u32): ArrayBuffer | null {
  clearOut();
  if (proxy_dequeue_shared_queue(token, OUT_PTR, OUT_LEN) != WasmResult.Ok) return null;
  return takeOut();
}

// ---------------------------------------------------------------- metrics
/** 0 when the host refused the definition; incrementing metric 0 is then a harmless no-op. */
export function defineMetric(type: MetricType, name: string): u32 {
  const n = utf8(name); store<u32>(OUT_EXTRA, 0);
  if (proxy_define_metric(type, ptrOf(n), n.byteLength, OUT_EXTRA) != WasmResult.Ok) return 0;
  return load<u32>(OUT_EXTRA);
}
export function incrementMetric(id: u32, delta: i64 = 1): void { if (id != 0) proxy_increment_metric(id, delta); }
export function recordMetric(id: u32, value: u64): void { if (id != 0) proxy_record_metric(id, value); }
export function getMetric(id: u32): u64 {
  store<u64>(OUT_EXTRA, 0);
  if (id == 0 || proxy_get_metric(id, OUT_EXTRA) != WasmResult.Ok) return 0;
  return load<u64>(OUT_EXTRA);
}

// ---------------------------------------------------------------- outbound calls (raw; see context.ts for dispatch)
/** Returns the call token, or 0 when the host refused the call (bad cluster, missing pseudo-headers). */
export function rawHttpCall(cluster: string, headers: Header[], body: ArrayBuffer | null, timeoutMs: u32): u32 {
  const c = utf8(cluster); const h = serializeHeaders(headers); const t = serializeHeaders([]);
  const b = body == null ? new ArrayBuffer(0) : body;
  store<u32>(OUT_EXTRA, 0);
  const r = proxy_http_call(ptrOf(c), c.byteLength, ptrOf(h), h.byteLength, ptrOf(b), b.byteLength, ptrOf(t), t.byteLength, timeoutMs, OUT_EXTRA);
  if (r != WasmResult.Ok) return 0;
  return load<u32>(OUT_EXTRA);
}
export function redisInit(cluster: string, user: string, password: string, timeoutMs: u32): WasmResult {
  const c = utf8(cluster); const u = utf8(user); const p = utf8(password);
  return <WasmResult>proxy_redis_init(ptrOf(c), c.byteLength, ptrOf(u), u.byteLength, ptrOf(p), p.byteLength, timeoutMs);
}
export function rawRedisCall(cluster: string, query: ArrayBuffer): u32 {
  const c = utf8(cluster); store<u32>(OUT_EXTRA, 0);
  if (proxy_redis_call(ptrOf(c), c.byteLength, ptrOf(query), query.byteLength, OUT_EXTRA) != WasmResult.Ok) return 0;
  return load<u32>(OUT_EXTRA);
}

// ---------------------------------------------------------------- Higress upstream selection
/** Endpoints of the current route's cluster: name "ip:port", value a JSON object with health_status and metrics. */
export function getUpstreamHosts(): Header[] {
  clearOut();
  if (proxy_get_upstream_hosts(OUT_PTR, OUT_LEN) != WasmResult.Ok) return new Array<Header>();
  return deserializeHeaders(takeOut());
}
export function setUpstreamOverrideHost(host: string): WasmResult {
  const h = utf8(host);
  return <WasmResult>proxy_set_upstream_override_host(ptrOf(h), h.byteLength);
}
