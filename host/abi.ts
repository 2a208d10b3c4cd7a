// Proxy-Wasm ABI 0.2.1 constants (mirrors shared/proxy/abi.ts, which is AssemblyScript and cannot be
// imported here) and the header-pairs wire format shared by several host calls.

export const enum WasmResult {
  Ok = 0, NotFound = 1, BadArgument = 2, SerializationFailure = 3, ParseFailure = 4,
  BadExpression = 5, InvalidMemoryAccess = 6, Empty = 7, CasMismatch = 8,
  ResultMismatch = 9, InternalFailure = 10, BrokenConnection = 11, Unimplemented = 12,
}
export const enum LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Critical = 5 }
export const LOG_LEVEL_NAMES = ["trace", "debug", "info", "warn", "error", "critical"] as const;

export const enum MapType {
  RequestHeaders = 0, RequestTrailers = 1, ResponseHeaders = 2, ResponseTrailers = 3,
  GrpcInitialMetadata = 4, GrpcTrailingMetadata = 5, HttpCallResponseHeaders = 6, HttpCallResponseTrailers = 7,
}
export const MAP_TYPE_MAX = 7;
export const enum BufferType {
  RequestBody = 0, ResponseBody = 1, DownstreamData = 2, UpstreamData = 3, HttpCallResponseBody = 4,
  GrpcReceive = 5, VmConfiguration = 6, PluginConfiguration = 7, CallData = 8, RedisCallResponse = 9,
}
export const BUFFER_TYPE_MAX = 9;
export const enum StreamType { Request = 0, Response = 1, Downstream = 2, Upstream = 3 }
export const enum MetricType { Counter = 0, Gauge = 1, Histogram = 2 }

export const enum HeaderAction {
  Continue = 0, StopIteration = 1, ContinueAndEndStream = 2,
  StopAllIterationAndBuffer = 3, StopAllIterationAndWatermark = 4,
}
export const enum DataAction { Continue = 0, StopIterationAndBuffer = 1, StopIterationAndWatermark = 2, StopIterationNoBuffer = 3 }
export const enum TrailerAction { Continue = 0, StopIteration = 1 }

export type Pairs = Array<[string, string]>;

/**
 * Header pairs wire format (proxy-wasm-cpp-host marshalPairs/toPairs): u32 count, then
 * (u32 keyLen, u32 valueLen) per pair, then each key and value followed by a NUL byte.
 * Values are raw bytes; we treat them as UTF-8 (latin1 would mangle non-ASCII header values).
 */
export function encodePairs(pairs: ReadonlyArray<readonly [string, string]>): Buffer {
  const keys = pairs.map(([k]) => Buffer.from(k, "utf8"));
  const values = pairs.map(([, v]) => Buffer.from(v, "utf8"));
  let size = 4 + pairs.length * 8;
  for (let i = 0; i < pairs.length; i++) size += keys[i].length + values[i].length + 2;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(pairs.length, 0);
  let lens = 4;
  let data = 4 + pairs.length * 8;
  for (let i = 0; i < pairs.length; i++) {
    out.writeUInt32LE(keys[i].length, lens);
    out.writeUInt32LE(values[i].length, lens + 4);
    lens += 8;
    keys[i].copy(out, data);
    data += keys[i].length + 1;
    values[i].copy(out, data);
    data += values[i].length + 1;
  }
  return out;
}

/**
 * Inverse of encodePairs. Like cpp-host's toPairs, a buffer too short for its declared count gives
 * no pairs; unlike it, we also refuse lengths that run past the end instead of reading past it.
 */
export function decodePairs(buf: Uint8Array): Pairs {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 4) return [];
  const count = b.readUInt32LE(0);
  if (4 + count * 8 > b.length) return [];
  const pairs: Pairs = [];
  let data = 4 + count * 8;
  for (let i = 0; i < count; i++) {
    const kl = b.readUInt32LE(4 + i * 8);
    const vl = b.readUInt32LE(8 + i * 8);
    if (data + kl + 1 + vl + 1 > b.length + 1) return [];
    const k = b.toString("utf8", data, data + kl);
    data += kl + 1;
    const v = b.toString("utf8", data, data + vl);
    data += vl + 1;
    pairs.push([k, v]);
  }
  return pairs;
}
