// Raw proxy-wasm ABI 0.2.1 imports (as proxy-wasm-cpp-host exposes them to Envoy)
// plus the Higress extensions. Nothing else may be imported by a module: an
// unknown import makes Envoy refuse to load it. Plugins use hostcalls.ts, never these.

export const enum WasmResult {
  Ok = 0, NotFound = 1, BadArgument = 2, SerializationFailure = 3, ParseFailure = 4,
  BadExpression = 5, InvalidMemoryAccess = 6, Empty = 7, CasMismatch = 8,
  ResultMismatch = 9, InternalFailure = 10, BrokenConnection = 11, Unimplemented = 12,
}
export const enum LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Critical = 5 }
export const enum MapType {
  RequestHeaders = 0, RequestTrailers = 1, ResponseHeaders = 2, ResponseTrailers = 3,
  GrpcInitialMetadata = 4, GrpcTrailingMetadata = 5, HttpCallResponseHeaders = 6, HttpCallResponseTrailers = 7,
}
export const enum BufferType {
  RequestBody = 0, ResponseBody = 1, DownstreamData = 2, UpstreamData = 3, HttpCallResponseBody = 4,
  GrpcReceive = 5, VmConfiguration = 6, PluginConfiguration = 7, CallData = 8,
  RedisCallResponse = 9, // Higress extension
}
export const enum StreamType { Request = 0, Response = 1, Downstream = 2, Upstream = 3 }
export const enum MetricType { Counter = 0, Gauge = 1, Histogram = 2 }

/** What a headers callback returns (Envoy's FilterHeadersStatus). */
export const enum HeaderAction {
  Continue = 0,
  StopIteration = 1,
  ContinueAndEndStream = 2,
  StopAllIterationAndBuffer = 3,
  StopAllIterationAndWatermark = 4,
}
/** What a body callback returns (Envoy's FilterDataStatus). */
export const enum DataAction { Continue = 0, StopIterationAndBuffer = 1, StopIterationAndWatermark = 2, StopIterationNoBuffer = 3 }

// @ts-ignore: decorator
@external("env", "proxy_log") export declare function proxy_log(level: u32, ptr: usize, len: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_log_level") export declare function proxy_get_log_level(out: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_current_time_nanoseconds") export declare function proxy_get_current_time_nanoseconds(out: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_tick_period_milliseconds") export declare function proxy_set_tick_period_milliseconds(ms: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_effective_context") export declare function proxy_set_effective_context(id: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_done") export declare function proxy_done(): u32;

// @ts-ignore: decorator
@external("env", "proxy_get_buffer_bytes") export declare function proxy_get_buffer_bytes(type: u32, start: u32, max: u32, outPtr: usize, outLen: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_buffer_status") export declare function proxy_get_buffer_status(type: u32, outLen: usize, outFlags: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_buffer_bytes") export declare function proxy_set_buffer_bytes(type: u32, start: u32, size: u32, ptr: usize, len: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_get_header_map_pairs") export declare function proxy_get_header_map_pairs(type: u32, outPtr: usize, outLen: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_header_map_pairs") export declare function proxy_set_header_map_pairs(type: u32, ptr: usize, len: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_header_map_value") export declare function proxy_get_header_map_value(type: u32, kPtr: usize, kLen: usize, outPtr: usize, outLen: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_replace_header_map_value") export declare function proxy_replace_header_map_value(type: u32, kPtr: usize, kLen: usize, vPtr: usize, vLen: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_add_header_map_value") export declare function proxy_add_header_map_value(type: u32, kPtr: usize, kLen: usize, vPtr: usize, vLen: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_remove_header_map_value") export declare function proxy_remove_header_map_value(type: u32, kPtr: usize, kLen: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_header_map_size") export declare function proxy_get_header_map_size(type: u32, out: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_get_property") export declare function proxy_get_property(pPtr: usize, pLen: usize, outPtr: usize, outLen: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_property") export declare function proxy_set_property(pPtr: usize, pLen: usize, vPtr: usize, vLen: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_continue_stream") export declare function proxy_continue_stream(stream: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_close_stream") export declare function proxy_close_stream(stream: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_send_local_response") export declare function proxy_send_local_response(
  status: u32, detailsPtr: usize, detailsLen: usize, bodyPtr: usize, bodyLen: usize,
  headersPtr: usize, headersLen: usize, grpcStatus: i32): u32;

// @ts-ignore: decorator
@external("env", "proxy_http_call") export declare function proxy_http_call(
  upPtr: usize, upLen: usize, hPtr: usize, hLen: usize, bPtr: usize, bLen: usize,
  tPtr: usize, tLen: usize, timeoutMs: u32, outToken: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_get_shared_data") export declare function proxy_get_shared_data(kPtr: usize, kLen: usize, outPtr: usize, outLen: usize, outCas: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_shared_data") export declare function proxy_set_shared_data(kPtr: usize, kLen: usize, vPtr: usize, vLen: usize, cas: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_register_shared_queue") export declare function proxy_register_shared_queue(nPtr: usize, nLen: usize, outToken: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_resolve_shared_queue") export declare function proxy_resolve_shared_queue(vmPtr: usize, vmLen: usize, nPtr: usize, nLen: usize, outToken: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_enqueue_shared_queue") export declare function proxy_enqueue_shared_queue(token: u32, ptr: usize, len: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_dequeue_shared_queue") export declare function proxy_dequeue_shared_queue(token: u32, outPtr: usize, outLen: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_define_metric") export declare function proxy_define_metric(type: u32, nPtr: usize, nLen: usize, outId: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_increment_metric") export declare function proxy_increment_metric(id: u32, offset: i64): u32;
// @ts-ignore: decorator
@external("env", "proxy_record_metric") export declare function proxy_record_metric(id: u32, value: u64): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_metric") export declare function proxy_get_metric(id: u32, out: usize): u32;

// ---- Higress extensions (higress-group/proxy-wasm-go-sdk abi_hostcalls.go) ----
// @ts-ignore: decorator
@external("env", "proxy_redis_init") export declare function proxy_redis_init(
  cPtr: usize, cLen: usize, uPtr: usize, uLen: usize, pPtr: usize, pLen: usize, timeoutMs: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_redis_call") export declare function proxy_redis_call(cPtr: usize, cLen: usize, qPtr: usize, qLen: usize, outToken: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_upstream_hosts") export declare function proxy_get_upstream_hosts(outPtr: usize, outLen: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_set_upstream_override_host") export declare function proxy_set_upstream_override_host(ptr: usize, len: usize): u32;
