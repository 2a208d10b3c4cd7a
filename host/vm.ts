import { randomFillSync } from "node:crypto";
import {
  BUFFER_TYPE_MAX, BufferType, LOG_LEVEL_NAMES, LogLevel, MAP_TYPE_MAX, MapType, MetricType, type Pairs,
  StreamType, WasmResult, decodePairs, encodePairs,
} from "./abi.ts";
import { HeaderMap } from "./headers.ts";
import { type Metric, MetricsRegistry } from "./metrics.ts";
import { getProperty, type PluginView, type StreamView } from "./properties.ts";
import { REDIS_NETWORK_ERROR, RedisClient, parseRedisCluster } from "./redis.ts";

/** A body the filter callback currently sees; set_buffer_bytes edits `data` in place. */
export interface BodyRef { data: Buffer; modified: boolean }

/** What a stream filter offers the host functions while one of its callbacks (or an effective-context call) runs. */
export interface StreamHooks {
  /** The header map a wasm call may read (`write` false) or change (`write` true); null when Envoy has none. */
  map(type: MapType, write: boolean): HeaderMap | null;
  mapChanged(type: MapType): void;
  body(type: BufferType): BodyRef | null;
  continueStream(type: StreamType): WasmResult;
  closeStream(type: StreamType): WasmResult;
  sendLocalResponse(status: number, details: string, body: Buffer, headers: Pairs, grpcStatus: number): WasmResult;
  view: StreamView;
  setProperty(path: string, value: Buffer): WasmResult;
  setUpstreamOverrideHost(address: string): WasmResult;
  upstreamHosts(): Pairs | null;
}

export interface WasmContext { id: number; rootId: number; stream: StreamHooks | null }

export interface HttpCallResult { headers: HeaderMap; body: Buffer; trailers: HeaderMap | null }

/** The host services a VM needs (implemented by Host). */
export interface VmServices {
  readonly metrics: MetricsRegistry;
  logLevel: LogLevel;
  nowNs(): bigint;
  log(vm: PluginVm, level: LogLevel, message: string): void;
  sharedGet(vmId: string, key: string): { value: Buffer; cas: number } | undefined;
  sharedSet(vmId: string, key: string, value: Buffer, cas: number): WasmResult;
  queueRegister(vm: PluginVm, name: string): number;
  queueResolve(vmId: string, name: string): number | undefined;
  queueEnqueue(token: number, value: Buffer): WasmResult;
  queueDequeue(token: number): Buffer | WasmResult;
  /** Starts an HTTP callout; `done` gets null on a reset (Envoy's onFailure). */
  httpCall(cluster: string, headers: HeaderMap, body: Buffer, trailers: Pairs, timeoutMs: number,
    done: (r: HttpCallResult | null) => void): WasmResult;
  redisEndpoint(cluster: string): (() => { host: string; port: number } | null) | null;
  foreignFunction(name: string): ((args: Buffer, stream: StreamHooks | null) => Buffer | WasmResult) | undefined;
  /** Runs `fn` as an event-loop entry point (drains deferred actions afterwards). */
  run(fn: () => void): void;
  setTickPeriod(vm: PluginVm, ms: number): void;
}

export interface PluginIdentity {
  name: string;
  rootId: string;
  vmId: string;
  nodeId: string;
  nodeCluster: string;
  configuration: Buffer;
  vmConfiguration: Buffer;
}

export type AbiVersion = "0_2_0" | "0_2_1" | "0_2_100";

export class TrapError extends Error {
  constructor(readonly callback: string, readonly cause: unknown, readonly abortMessage: string) {
    super(`${callback}: ${cause instanceof Error ? cause.message : String(cause)}${abortMessage ? ` (${abortMessage})` : ""}`);
  }
}

// Every import Higress's Envoy (higress-group/proxy-wasm-cpp-host) registers. A module importing
// anything else fails to load, as in Envoy. Those we do not emulate answer Unimplemented.
const PROXY_IMPORTS = [
  "log", "get_status", "set_property", "get_property", "send_local_response", "get_shared_data",
  "set_shared_data", "register_shared_queue", "resolve_shared_queue", "dequeue_shared_queue",
  "enqueue_shared_queue", "get_header_map_value", "add_header_map_value", "replace_header_map_value",
  "remove_header_map_value", "get_header_map_pairs", "set_header_map_pairs", "get_header_map_size",
  "get_buffer_status", "get_buffer_bytes", "set_buffer_bytes", "http_call", "grpc_call", "grpc_stream",
  "grpc_close", "grpc_cancel", "grpc_send", "set_tick_period_milliseconds", "get_current_time_nanoseconds",
  "define_metric", "increment_metric", "record_metric", "get_metric", "set_effective_context", "done",
  "call_foreign_function", "redis_init", "redis_call", "get_upstream_hosts",
  "inject_encoded_data_to_filter_chain", "set_upstream_override_host",
  // ABI 0.2.x only (0.1.0's continue_request & co. are not offered: this host runs 0.2.x modules only).
  "continue_stream", "close_stream", "get_log_level",
].map((n) => `proxy_${n}`);
const OTHER_ENV_IMPORTS = ["pthread_equal", "emscripten_notify_memory_growth"];
const WASI_IMPORTS = [
  "fd_write", "fd_read", "fd_seek", "fd_close", "fd_fdstat_get", "fd_fdstat_set_flags", "fd_fdstat_set_rights",
  "environ_get", "environ_sizes_get", "args_get", "args_sizes_get", "clock_time_get", "clock_res_get",
  "fd_advise", "fd_allocate", "fd_datasync", "fd_filestat_set_size", "fd_filestat_set_times", "fd_pread",
  "fd_pwrite", "fd_readdir", "fd_renumber", "fd_sync", "fd_tell", "path_create_directory",
  "path_filestat_set_times", "path_link", "path_readlink", "path_remove_directory", "path_rename",
  "path_symlink", "path_unlink_file", "sock_accept", "sock_recv", "sock_send", "sock_shutdown", "random_get",
  "sched_yield", "poll_oneoff", "proc_exit", "path_open", "fd_prestat_get", "fd_prestat_dir_name",
  "path_filestat_get", "fd_filestat_get",
];

/** Checks a module's imports and ABI version the way Envoy does before instantiating it. */
export function checkModule(module: WebAssembly.Module): AbiVersion {
  const bad: string[] = [];
  for (const imp of WebAssembly.Module.imports(module)) {
    const ok = imp.kind === "function" && (
      (imp.module === "env" && (PROXY_IMPORTS.includes(imp.name) || OTHER_ENV_IMPORTS.includes(imp.name))) ||
      ((imp.module === "wasi_snapshot_preview1" || imp.module === "wasi_unstable") && WASI_IMPORTS.includes(imp.name)));
    if (!ok) bad.push(`${imp.module}.${imp.name}`);
  }
  if (bad.length) throw new Error(`Failed to load Wasm module due to a missing import: ${bad.join(", ")}`);
  const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  // Higress's SDK exports 0_2_100: with it, headers StopIteration is honoured instead of being
  // turned into StopAllIterationAndWatermark (see convertHeaderStatus).
  for (const v of ["0_2_100", "0_2_1", "0_2_0"] as const) if (names.has(`proxy_abi_version_${v}`)) return v;
  if (names.has("proxy_abi_version_0_1_0")) throw new Error("Wasm module uses Proxy-Wasm ABI 0.1.0, which this host does not run");
  throw new Error("Wasm module is missing the Proxy-Wasm ABI version");
}

type Exports = Record<string, unknown> & { memory: WebAssembly.Memory };

/**
 * One instance of a plugin's module: Envoy's per-worker Wasm (WasmBase + its contexts). Holds the
 * root context (id 1) and the stream contexts created on it.
 */
export class PluginVm {
  failed = false;
  readonly contexts = new Map<number, WasmContext>();
  readonly root: WasmContext;
  tickPeriodMs = 0;
  lastError = "";
  private exports!: Exports;
  private nextContextId = 1;
  private current: WasmContext | null = null;
  private effectiveId = 0;
  /** Set by proxy_send_local_response: the running callback's status becomes a stop (cpp-host stopNextIteration). */
  localReplyInCall = false;
  private configuring = false;
  private httpResponse: HttpCallResult | null = null;
  private redisResponse: Buffer | null = null;
  private status: { code: number; message: string } = { code: 0, message: "" };
  private metricIds = new Map<number, Metric>();
  private nextMetric = [MetricType.Counter, MetricType.Gauge, MetricType.Histogram] as number[];
  private nextHttpToken = 0;
  private nextRedisToken = 3;
  private pendingCalls = 0;
  private redis = new Map<string, RedisClient>();

  constructor(
    readonly plugin: PluginIdentity,
    readonly index: number,
    readonly abi: AbiVersion,
    private module: WebAssembly.Module,
    private services: VmServices,
    private onTrap: (vm: PluginVm, err: TrapError) => void,
  ) {
    this.root = this.newContext(0);
  }

  get label(): string { return `${this.plugin.name}#${this.index}`; }

  newContext(rootId: number, stream: StreamHooks | null = null): WasmContext {
    const id = this.nextContextId++;
    const ctx = { id, rootId: rootId || id, stream };
    this.contexts.set(id, ctx);
    return ctx;
  }

  /** Instantiates and runs the root lifecycle. Returns an error text when the plugin refuses its config. */
  start(): string | null {
    const instance = new WebAssembly.Instance(this.module, this.imports());
    this.exports = instance.exports as Exports;
    const init = this.exports._initialize ? "_initialize" : this.exports._start ? "_start" : null;
    if (init) this.call(init, this.root);
    if (this.failed) return `trap in ${init}`;
    this.call("proxy_on_context_create", this.root, this.root.id, 0);
    const vmStart = this.call("proxy_on_vm_start", this.root, this.root.id, this.plugin.vmConfiguration.length);
    if (this.failed || vmStart === 0) return "proxy_on_vm_start failed";
    this.configuring = true;
    const ok = this.call("proxy_on_configure", this.root, this.root.id, this.plugin.configuration.length);
    this.configuring = false;
    if (this.failed || ok === 0) return "proxy_on_configure returned false";
    return null;
  }

  has(name: string): boolean { return typeof this.exports[name] === "function"; }

  /**
   * Calls an export with `ctx` as the current context. Returns undefined when the export is missing,
   * the VM already failed, or the call trapped (then the VM is marked failed and the trap reported).
   */
  call(name: string, ctx: WasmContext, ...args: number[]): number | undefined {
    if (this.failed) return undefined;
    const fn = this.exports[name];
    if (typeof fn !== "function") return undefined;
    const prev = this.current;
    const prevEffective = this.effectiveId;
    this.current = ctx;
    this.effectiveId = 0;
    if (prev === null) this.lastError = "";
    try {
      const r = (fn as (...a: number[]) => unknown)(...args);
      return typeof r === "number" ? r >>> 0 : 0;
    } catch (e) {
      this.fail(name, e);
      return undefined;
    } finally {
      this.current = prev;
      this.effectiveId = prevEffective;
    }
  }

  fail(callback: string, cause: unknown): void {
    if (this.failed) return;
    this.failed = true;
    for (const c of this.redis.values()) c.close();
    this.services.setTickPeriod(this, 0);
    this.onTrap(this, new TrapError(callback, cause, this.lastError));
  }

  deleteContext(id: number): void { this.contexts.delete(id); }

  memoryBytes(): number { return this.exports?.memory?.buffer.byteLength ?? 0; }

  // ---- async deliveries (each is an event-loop entry point) ----

  deliverHttpCallResponse(token: number, r: HttpCallResult | null): void {
    if (this.failed) return;
    this.httpResponse = r;
    if (r === null) this.status = { code: WasmResult.BrokenConnection, message: "reset" };
    this.call("proxy_on_http_call_response", this.root, this.root.id, token,
      r ? r.headers.size : 0, r ? r.body.length : 0, r?.trailers ? r.trailers.size : 0);
    this.httpResponse = null;
    this.status = { code: 0, message: "" };
  }

  deliverRedisResponse(token: number, status: number, reply: Buffer): void {
    if (this.failed) return;
    this.redisResponse = reply;
    if (status !== 0) this.status = { code: WasmResult.BrokenConnection, message: "reset" };
    this.call("proxy_on_redis_call_response", this.root, this.root.id, token, status, reply.length);
    this.redisResponse = null;
    this.status = { code: 0, message: "" };
  }

  tick(): void { this.call("proxy_on_tick", this.root, this.root.id); }

  queueReady(token: number): void { this.call("proxy_on_queue_ready", this.root, this.root.id, token); }

  close(): void {
    for (const c of this.redis.values()) c.close();
    this.redis.clear();
    this.services.setTickPeriod(this, 0);
  }

  get busy(): boolean { return this.pendingCalls > 0; }

  // ---- memory helpers ----

  private get mem(): Uint8Array { return new Uint8Array(this.exports.memory.buffer); }

  private read(ptr: number, len: number): Buffer | null {
    ptr >>>= 0; len >>>= 0;
    const m = this.mem;
    if (ptr + len > m.length) return null;
    return Buffer.from(m.buffer, ptr, len);
  }

  private readStr(ptr: number, len: number): string | null {
    const b = this.read(ptr, len);
    return b === null ? null : b.toString("utf8");
  }

  private writeU32(ptr: number, v: number): boolean {
    ptr >>>= 0;
    if (ptr + 4 > this.mem.length) return false;
    new DataView(this.exports.memory.buffer).setUint32(ptr, v >>> 0, true);
    return true;
  }

  private writeU64(ptr: number, v: bigint): boolean {
    ptr >>>= 0;
    if (ptr + 8 > this.mem.length) return false;
    new DataView(this.exports.memory.buffer).setBigUint64(ptr, BigInt.asUintN(64, v), true);
    return true;
  }

  /** Copies `data` into memory from the guest's malloc and writes pointer/size to the out-params. */
  private copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): WasmResult {
    let ptr = 0;
    if (data.length > 0) {
      const malloc = (this.exports.malloc ?? this.exports.proxy_on_memory_allocate) as ((n: number) => number) | undefined;
      if (!malloc) return WasmResult.InvalidMemoryAccess;
      ptr = malloc(data.length) >>> 0;
      if (ptr === 0 || ptr + data.length > this.mem.length) return WasmResult.InvalidMemoryAccess;
      this.mem.set(data, ptr);
    }
    return this.writeU32(ptrPtr, ptr) && this.writeU32(sizePtr, data.length) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  }

  // ---- host functions ----

  /** The context host calls act on: the effective one if set and alive, else the running one. */
  private ctx(): WasmContext {
    if (this.effectiveId) {
      const c = this.contexts.get(this.effectiveId);
      if (c) return c;
    }
    return this.current ?? this.root;
  }

  /** What proxy_get_property sees of the plugin; made once (a closure per call is costly under tsx). */
  private pluginViewCache: PluginView | null = null;
  private pluginView(): PluginView {
    if (this.pluginViewCache) return this.pluginViewCache;
    const p = this.plugin;
    return (this.pluginViewCache = { name: p.name, rootId: p.rootId, vmId: p.vmId, nodeId: p.nodeId, nodeCluster: p.nodeCluster, memoryBytes: () => this.memoryBytes() });
  }

  private buffer(type: number): BodyRef | Buffer | null {
    switch (type) {
      case BufferType.RequestBody:
      case BufferType.ResponseBody:
        return this.ctx().stream?.body(type) ?? null;
      case BufferType.PluginConfiguration:
        // Envoy only exposes it while the plugin is being configured (temp_plugin_).
        return this.configuring ? this.plugin.configuration : null;
      case BufferType.VmConfiguration:
        return this.plugin.vmConfiguration;
      case BufferType.HttpCallResponseBody:
        return this.httpResponse ? this.httpResponse.body : null;
      case BufferType.RedisCallResponse:
        return this.redisResponse;
      default:
        return null;
    }
  }

  private constMap(type: number): HeaderMap | null {
    if (type === MapType.HttpCallResponseHeaders) return this.httpResponse?.headers ?? null;
    if (type === MapType.HttpCallResponseTrailers) return this.httpResponse?.trailers ?? null;
    if (type > MapType.ResponseTrailers) return null;
    return this.ctx().stream?.map(type, false) ?? null;
  }

  private mutableMap(type: number): HeaderMap | null {
    if (type > MapType.ResponseTrailers) return null;
    return this.ctx().stream?.map(type, true) ?? null;
  }

  private mutate(type: number, key: number, keyLen: number, fn: (m: HeaderMap, k: string) => void): number {
    if (type > MAP_TYPE_MAX) return WasmResult.BadArgument;
    const k = this.readStr(key, keyLen);
    if (k === null) return WasmResult.InvalidMemoryAccess;
    const m = this.mutableMap(type);
    if (!m) return WasmResult.BadArgument;
    fn(m, k);
    this.ctx().stream?.mapChanged(type);
    return WasmResult.Ok;
  }

  private imports(): WebAssembly.Imports {
    const S = this.services;
    const env: Record<string, (...a: never[]) => unknown> = {};
    const unimplemented = () => WasmResult.Unimplemented;
    for (const n of PROXY_IMPORTS) env[n] = unimplemented;
    env.pthread_equal = (a: number, b: number) => (a === b ? 1 : 0);
    env.emscripten_notify_memory_growth = () => undefined;

    Object.assign(env, {
      proxy_log: (level: number, ptr: number, len: number) => {
        if (level > LogLevel.Critical) return WasmResult.BadArgument;
        const msg = this.readStr(ptr, len);
        if (msg === null) return WasmResult.InvalidMemoryAccess;
        if (level >= LogLevel.Error) this.lastError = msg;
        S.log(this, level, msg);
        return WasmResult.Ok;
      },
      proxy_get_log_level: (out: number) => (this.writeU32(out, S.logLevel) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess),
      proxy_get_current_time_nanoseconds: (out: number) => (this.writeU64(out, S.nowNs()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess),
      proxy_set_tick_period_milliseconds: (ms: number) => { S.setTickPeriod(this, ms >>> 0); return WasmResult.Ok; },
      proxy_set_effective_context: (id: number) => {
        if (!this.contexts.has(id >>> 0)) return WasmResult.BadArgument;
        this.effectiveId = id >>> 0;
        return WasmResult.Ok;
      },
      proxy_done: () => WasmResult.Ok,
      proxy_get_status: (codePtr: number, ptrPtr: number, sizePtr: number) => {
        if (!this.writeU32(codePtr, this.status.code)) return WasmResult.InvalidMemoryAccess;
        return this.copyOut(Buffer.from(this.status.message), ptrPtr, sizePtr);
      },

      proxy_get_buffer_bytes: (type: number, start: number, max: number, ptrPtr: number, sizePtr: number) => {
        if (type > BUFFER_TYPE_MAX) return WasmResult.BadArgument;
        const b = this.buffer(type);
        if (b === null) return WasmResult.NotFound;
        const data = Buffer.isBuffer(b) ? b : b.data;
        start >>>= 0; max >>>= 0;
        if (start > data.length) return WasmResult.BadArgument;
        const len = Math.min(max, data.length - start);
        // cpp-host leaves the out-params untouched for an empty read; we write 0/0 so a guest never
        // reads stale values.
        return this.copyOut(data.subarray(start, start + len), ptrPtr, sizePtr);
      },
      proxy_get_buffer_status: (type: number, lenPtr: number, flagsPtr: number) => {
        if (type > BUFFER_TYPE_MAX) return WasmResult.BadArgument;
        const b = this.buffer(type);
        if (b === null) return WasmResult.NotFound;
        const len = Buffer.isBuffer(b) ? b.length : b.data.length;
        return this.writeU32(lenPtr, len) && this.writeU32(flagsPtr, 0) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
      },
      proxy_set_buffer_bytes: (type: number, start: number, length: number, ptr: number, size: number) => {
        if (type > BUFFER_TYPE_MAX) return WasmResult.BadArgument;
        const b = this.buffer(type);
        if (b === null) return WasmResult.NotFound;
        const data = this.read(ptr, size);
        if (data === null) return WasmResult.InvalidMemoryAccess;
        if (Buffer.isBuffer(b)) return WasmResult.BadArgument; // configuration, callout responses: immutable
        const r = spliceBody(b.data, start >>> 0, length >>> 0, data);
        if (r === null) return WasmResult.BadArgument;
        b.data = r;
        b.modified = true;
        return WasmResult.Ok;
      },

      proxy_get_header_map_pairs: (type: number, ptrPtr: number, sizePtr: number) => {
        if (type > MAP_TYPE_MAX) return WasmResult.BadArgument;
        const m = this.constMap(type);
        return this.copyOut(m && m.size ? encodePairs(m.pairs()) : Buffer.alloc(0), ptrPtr, sizePtr);
      },
      proxy_set_header_map_pairs: (type: number, ptr: number, size: number) => {
        if (type > MAP_TYPE_MAX) return WasmResult.BadArgument;
        const data = this.read(ptr, size);
        if (data === null) return WasmResult.InvalidMemoryAccess;
        const m = this.mutableMap(type);
        if (!m) return WasmResult.BadArgument;
        m.setPairs(decodePairs(data));
        this.ctx().stream?.mapChanged(type);
        return WasmResult.Ok;
      },
      proxy_get_header_map_value: (type: number, kp: number, kl: number, ptrPtr: number, sizePtr: number) => {
        if (type > MAP_TYPE_MAX) return WasmResult.BadArgument;
        const k = this.readStr(kp, kl);
        if (k === null) return WasmResult.InvalidMemoryAccess;
        const m = this.constMap(type);
        if (!m) return WasmResult.BadArgument;
        const v = m.get(k);
        if (v === undefined) return WasmResult.NotFound;
        return this.copyOut(Buffer.from(v, "utf8"), ptrPtr, sizePtr);
      },
      proxy_replace_header_map_value: (type: number, kp: number, kl: number, vp: number, vl: number) => {
        const v = this.readStr(vp, vl);
        if (v === null) return WasmResult.InvalidMemoryAccess;
        return this.mutate(type, kp, kl, (m, k) => m.replace(k, v));
      },
      proxy_add_header_map_value: (type: number, kp: number, kl: number, vp: number, vl: number) => {
        const v = this.readStr(vp, vl);
        if (v === null) return WasmResult.InvalidMemoryAccess;
        return this.mutate(type, kp, kl, (m, k) => m.add(k, v));
      },
      proxy_remove_header_map_value: (type: number, kp: number, kl: number) =>
        this.mutate(type, kp, kl, (m, k) => m.remove(k)),
      proxy_get_header_map_size: (type: number, out: number) => {
        if (type > MAP_TYPE_MAX) return WasmResult.BadArgument;
        const m = this.mutableMap(type);
        if (!m) return WasmResult.BadArgument;
        return this.writeU32(out, m.byteSize()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
      },

      proxy_get_property: (pp: number, pl: number, ptrPtr: number, sizePtr: number) => {
        const path = this.readStr(pp, pl);
        if (path === null) return WasmResult.InvalidMemoryAccess;
        const v = getProperty(path.split("\0"), this.pluginView(), this.ctx().stream?.view ?? null);
        return typeof v === "number" ? v : this.copyOut(v, ptrPtr, sizePtr);
      },
      proxy_set_property: (pp: number, pl: number, vp: number, vl: number) => {
        const path = this.readStr(pp, pl);
        const value = this.read(vp, vl);
        if (path === null || value === null) return WasmResult.InvalidMemoryAccess;
        const s = this.ctx().stream;
        return s ? s.setProperty(path, Buffer.from(value)) : WasmResult.NotFound;
      },

      proxy_continue_stream: (type: number) => {
        if (type > StreamType.Upstream) return WasmResult.BadArgument;
        return this.ctx().stream?.continueStream(type) ?? WasmResult.Ok;
      },
      proxy_close_stream: (type: number) => {
        if (type > StreamType.Upstream) return WasmResult.BadArgument;
        return this.ctx().stream?.closeStream(type) ?? WasmResult.Ok;
      },
      proxy_send_local_response: (status: number, dp: number, dl: number, bp: number, bl: number, hp: number, hl: number, grpc: number) => {
        const details = this.readStr(dp, dl);
        const body = this.read(bp, bl);
        const headers = this.read(hp, hl);
        if (details === null || body === null || headers === null) return WasmResult.InvalidMemoryAccess;
        const s = this.ctx().stream;
        const r = s ? s.sendLocalResponse(status >>> 0, details, Buffer.from(body), decodePairs(headers), grpc | 0) : WasmResult.Ok;
        if (r === WasmResult.Ok) this.localReplyInCall = true;
        return r;
      },

      proxy_http_call: (up: number, ul: number, hp: number, hl: number, bp: number, bl: number, tp: number, tl: number, timeout: number, tokenPtr: number) => {
        const cluster = this.readStr(up, ul);
        const h = this.read(hp, hl);
        const body = this.read(bp, bl);
        const t = this.read(tp, tl);
        if (cluster === null || h === null || body === null || t === null) return WasmResult.InvalidMemoryAccess;
        if (!this.writeU32(tokenPtr, 0)) return WasmResult.InvalidMemoryAccess;
        const token = (this.nextHttpToken += 4);
        const headerPairs = decodePairs(h);
        const r = S.httpCall(cluster, new HeaderMap(headerPairs), Buffer.from(body), decodePairs(t), timeout >>> 0, (res) => {
          this.pendingCalls--;
          S.run(() => this.deliverHttpCallResponse(token, res));
        });
        if (r !== WasmResult.Ok) return r;
        this.pendingCalls++;
        this.writeU32(tokenPtr, token);
        return WasmResult.Ok;
      },

      proxy_get_shared_data: (kp: number, kl: number, ptrPtr: number, sizePtr: number, casPtr: number) => {
        const key = this.readStr(kp, kl);
        if (key === null) return WasmResult.InvalidMemoryAccess;
        const v = S.sharedGet(this.plugin.vmId, key);
        if (!v) return WasmResult.NotFound;
        const r = this.copyOut(v.value, ptrPtr, sizePtr);
        if (r !== WasmResult.Ok) return r;
        return this.writeU32(casPtr, v.cas) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
      },
      proxy_set_shared_data: (kp: number, kl: number, vp: number, vl: number, cas: number) => {
        const key = this.readStr(kp, kl);
        const value = this.read(vp, vl);
        if (key === null || value === null) return WasmResult.InvalidMemoryAccess;
        return S.sharedSet(this.plugin.vmId, key, value, cas >>> 0);
      },
      proxy_register_shared_queue: (np: number, nl: number, tokenPtr: number) => {
        const name = this.readStr(np, nl);
        if (name === null) return WasmResult.InvalidMemoryAccess;
        return this.writeU32(tokenPtr, S.queueRegister(this, name)) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
      },
      proxy_resolve_shared_queue: (vp: number, vl: number, np: number, nl: number, tokenPtr: number) => {
        const vmId = this.readStr(vp, vl);
        const name = this.readStr(np, nl);
        if (vmId === null || name === null) return WasmResult.InvalidMemoryAccess;
        const token = S.queueResolve(vmId || this.plugin.vmId, name);
        if (token === undefined) return WasmResult.NotFound;
        return this.writeU32(tokenPtr, token) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
      },
      proxy_enqueue_shared_queue: (token: number, ptr: number, len: number) => {
        const data = this.read(ptr, len);
        if (data === null) return WasmResult.InvalidMemoryAccess;
        return S.queueEnqueue(token >>> 0, data);
      },
      proxy_dequeue_shared_queue: (token: number, ptrPtr: number, sizePtr: number) => {
        const r = S.queueDequeue(token >>> 0);
        return typeof r === "number" ? r : this.copyOut(r, ptrPtr, sizePtr);
      },

      proxy_define_metric: (type: number, np: number, nl: number, idPtr: number) => {
        if (type > MetricType.Histogram) return WasmResult.BadArgument;
        const name = this.readStr(np, nl);
        if (name === null) return WasmResult.InvalidMemoryAccess;
        // Envoy encodes the type in the id's low two bits: counters 4, 8, …; gauges 5, 9, …; histograms 6, 10, …
        const id = (this.nextMetric[type] += 4);
        this.metricIds.set(id, S.metrics.define(name, type));
        return this.writeU32(idPtr, id) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
      },
      proxy_increment_metric: (id: number, offset: bigint) => {
        const m = this.metricIds.get(id >>> 0);
        const type = (id >>> 0) & 3;
        if (type === MetricType.Histogram) return WasmResult.BadArgument;
        if (!m) return WasmResult.NotFound;
        const off = BigInt(offset);
        if (type === MetricType.Counter && off <= 0n) return WasmResult.BadArgument;
        m.value = BigInt.asUintN(64, m.value + off);
        return WasmResult.Ok;
      },
      proxy_record_metric: (id: number, value: bigint) => {
        const m = this.metricIds.get(id >>> 0);
        if (!m) return WasmResult.NotFound;
        const v = BigInt.asUintN(64, BigInt(value));
        if (m.type === MetricType.Counter) m.value = BigInt.asUintN(64, m.value + v);
        else if (m.type === MetricType.Gauge) m.value = v;
        else MetricsRegistry.record(m, Number(v));
        return WasmResult.Ok;
      },
      proxy_get_metric: (id: number, out: number) => {
        const type = (id >>> 0) & 3;
        if (type === MetricType.Histogram) return WasmResult.BadArgument;
        const m = this.metricIds.get(id >>> 0);
        if (!m) return WasmResult.NotFound;
        return this.writeU64(out, m.value) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
      },

      proxy_call_foreign_function: (np: number, nl: number, ap: number, al: number, ptrPtr: number, sizePtr: number) => {
        const name = this.readStr(np, nl);
        const args = this.read(ap, al);
        if (name === null || args === null) return WasmResult.InvalidMemoryAccess;
        const f = S.foreignFunction(name);
        if (!f) return WasmResult.NotFound;
        const r = f(Buffer.from(args), this.ctx().stream);
        if (typeof r === "number") return r;
        return ptrPtr ? this.copyOut(r, ptrPtr, sizePtr) : WasmResult.Ok;
      },

      proxy_redis_init: (cp: number, cl: number, up: number, ul: number, pp: number, pl: number, timeout: number) => {
        const cluster = this.readStr(cp, cl);
        const user = this.readStr(up, ul);
        const pass = this.readStr(pp, pl);
        if (cluster === null || user === null || pass === null) return WasmResult.InvalidMemoryAccess;
        const { name, db } = parseRedisCluster(cluster);
        const endpoint = S.redisEndpoint(name);
        if (!endpoint) return WasmResult.BadArgument;
        this.redis.get(name)?.close();
        this.redis.set(name, new RedisClient(endpoint, { username: user, password: pass, timeoutMs: timeout >>> 0, db }));
        return WasmResult.Ok;
      },
      proxy_redis_call: (cp: number, cl: number, qp: number, ql: number, tokenPtr: number) => {
        const cluster = this.readStr(cp, cl);
        const query = this.read(qp, ql);
        if (cluster === null || query === null) return WasmResult.InvalidMemoryAccess;
        const { name } = parseRedisCluster(cluster);
        const endpoint = S.redisEndpoint(name);
        if (!endpoint) return WasmResult.BadArgument;
        let client = this.redis.get(name);
        if (!client) this.redis.set(name, (client = new RedisClient(endpoint, { username: "", password: "", timeoutMs: 1000, db: 0 })));
        if (!this.writeU32(tokenPtr, 0)) return WasmResult.InvalidMemoryAccess;
        const token = (this.nextRedisToken += 4);
        this.pendingCalls++;
        client.call(Buffer.from(query), (status, reply) => {
          this.pendingCalls--;
          S.run(() => this.deliverRedisResponse(token, status === 0 ? 0 : REDIS_NETWORK_ERROR, reply));
        });
        this.writeU32(tokenPtr, token);
        return WasmResult.Ok;
      },
      proxy_get_upstream_hosts: (ptrPtr: number, sizePtr: number) => {
        const pairs = this.ctx().stream?.upstreamHosts() ?? null;
        if (pairs === null) return WasmResult.NotFound;
        return this.copyOut(pairs.length ? encodePairs(pairs) : Buffer.alloc(0), ptrPtr, sizePtr);
      },
      proxy_set_upstream_override_host: (ptr: number, len: number) => {
        const host = this.readStr(ptr, len);
        if (host === null) return WasmResult.InvalidMemoryAccess;
        return this.ctx().stream?.setUpstreamOverrideHost(host) ?? WasmResult.BadArgument;
      },
    });

    const wasi: Record<string, (...a: never[]) => unknown> = {};
    for (const n of WASI_IMPORTS) wasi[n] = () => 52; // ENOSYS
    Object.assign(wasi, {
      // cpp-host routes stdout to info and stderr to error logs.
      fd_write: (fd: number, iovs: number, n: number, written: number) => {
        if (fd !== 1 && fd !== 2) return 8; // EBADF
        let text = "";
        for (let i = 0; i < n; i++) {
          const iov = this.read(iovs + i * 8, 8);
          if (!iov) return 21; // EFAULT
          const s = this.readStr(iov.readUInt32LE(0), iov.readUInt32LE(4));
          if (s === null) return 21;
          text += s;
        }
        S.log(this, fd === 1 ? LogLevel.Info : LogLevel.Error, text.replace(/\n$/, ""));
        return this.writeU32(written, Buffer.byteLength(text)) ? 0 : 21;
      },
      clock_time_get: (id: number, _precision: bigint, out: number) => (id !== 0 ? 58 : this.writeU64(out, S.nowNs()) ? 0 : 21),
      random_get: (ptr: number, len: number) => {
        const b = this.read(ptr, len);
        if (!b) return 21;
        randomFillSync(b);
        return 0;
      },
      environ_sizes_get: (c: number, s: number) => (this.writeU32(c, 0) && this.writeU32(s, 0) ? 0 : 21),
      args_sizes_get: (c: number, s: number) => (this.writeU32(c, 0) && this.writeU32(s, 0) ? 0 : 21),
      environ_get: () => 0,
      args_get: () => 0,
      proc_exit: () => { throw new Error("proc_exit"); },
    });
    return { env, wasi_snapshot_preview1: wasi, wasi_unstable: wasi } as WebAssembly.Imports;
  }
}

/**
 * Envoy's Buffer::copyFrom on a body: start 0 & length 0 prepends, start 0 & length >= size
 * replaces, start >= size appends; anything else is BadArgument (null here).
 */
export function spliceBody(cur: Buffer, start: number, length: number, data: Uint8Array): Buffer | null {
  if (start === 0) {
    if (length === 0) return Buffer.concat([data, cur]);
    if (length >= cur.length) return Buffer.from(data);
    return null;
  }
  if (start >= cur.length) return Buffer.concat([cur, data]);
  return null;
}

export function levelName(level: LogLevel): string { return LOG_LEVEL_NAMES[level] ?? String(level); }
