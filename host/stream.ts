import { randomUUID } from "node:crypto";
import type http from "node:http";
import {
  BufferType, DataAction, HeaderAction, MapType, type Pairs, StreamType, TrailerAction, WasmResult,
} from "./abi.ts";
import { type ChainIO, FilterChain } from "./chain.ts";
import { HeaderMap } from "./headers.ts";
import type { Plugin } from "./plugin.ts";
import type { StreamView } from "./properties.ts";
import { type Cluster, type UpstreamExchange, type UpstreamFailure, openExchange } from "./upstream.ts";
import type { BodyRef, PluginVm, StreamHooks, WasmContext } from "./vm.ts";

export interface RouteMatch {
  /** Path prefix (default "/"). */
  prefix?: string;
  /** Exact path (query string excluded). */
  path?: string;
  /** Exact authority, "*" (any), or "*.suffix". */
  host?: string;
  /** Headers that must be present with these exact values. */
  headers?: Record<string, string>;
}

export interface RouteConfig {
  name: string;
  match?: RouteMatch;
  cluster: string;
  /** Plugin names on this route; omitted: every plugin of the host. Order comes from phase/priority. */
  plugins?: string[];
  /** Whole-response upstream timeout in ms; 0 or omitted: none. */
  timeoutMs?: number;
  /** Per-route buffer limit in bytes (413/500 past it); default the host's. */
  bufferLimitBytes?: number;
}

export interface StreamInit {
  method?: string;
  path?: string;
  authority?: string;
  scheme?: string;
  headers?: Record<string, string | string[]> | Pairs;
  /** Downstream peer "ip:port" (source.address). */
  source?: string;
  protocol?: string;
}

export interface UpstreamRecord {
  cluster: string;
  endpoint: string;
  /** Headers as the filter chain handed them to the router (Envoy semantics, content-length untouched). */
  headers: Pairs;
  /** The whole body the router sent (filled in when the stream ends). */
  body: Buffer;
  trailers: Pairs | null;
}

export interface HostResponse {
  /** 0 when the stream was reset before response headers. */
  status: number;
  /** Response headers without pseudo-headers; repeated ones joined with ",". */
  headers: Record<string, string>;
  /** All response headers in order, :status included. */
  headerPairs: Pairs;
  body: Buffer;
  readonly text: string;
  json<T = unknown>(): T;
  /** Body chunks in the order the client received them (SSE events arrive here one by one). */
  chunks: Buffer[];
  trailers: Pairs | null;
  /** response.code_details: "via_upstream", a plugin's local-reply details, or Envoy's own codes. */
  details: string | null;
  /** True when the response did not come from the upstream. */
  localReply: boolean;
  /** True when the stream was reset instead of completing (client abort, upstream reset, close_stream). */
  reset: boolean;
  upstreamRequest: UpstreamRecord | null;
  durationMs: number;
  /** What plugins stored with proxy_set_property (Envoy's filter state "wasm.<key>"), e.g. `ai_log`. */
  filterState: Map<string, Buffer>;
}

/** Streaming observer of the response as the client would receive it. */
export interface ResponseListener {
  headers?(status: number, headers: Pairs, endStream: boolean): void;
  data?(chunk: Buffer, endStream: boolean): void;
  trailers?(trailers: Pairs): void;
  /** The stream ended: completed, or reset (then `reset` is true). */
  end?(reset: boolean): void;
}

/** What a stream needs from the host. */
export interface StreamHost {
  run(fn: () => void): void;
  defer(fn: () => void): void;
  nowNs(): bigint;
  cluster(name: string): Cluster | undefined;
  matchRoute(headers: HeaderMap): { route: RouteConfig; plugins: Plugin[] } | null;
  bufferLimitBytes: number;
  agent: http.Agent;
  nextConnectionId(): number;
}

const LOCAL_REPLY_TEXT: Record<number, string> = { 413: "Payload Too Large", 500: "Internal Server Error" };

/** One plugin's filter instance in one stream: Envoy's wasm Context for an HTTP stream. */
class FilterSlot implements StreamHooks, StreamView {
  readonly ctx: WasmContext;
  created = false;
  /** Fail-open after a trap: the plugin is skipped for the rest of the stream. */
  private skip = false;
  private localReplyHold = false;
  accessLog = false;
  reqHeadersVisible = false;
  reqTrailersVisible = false;
  respHeadersVisible = false;
  respTrailersVisible = false;

  constructor(readonly stream: HttpStream, readonly plugin: Plugin, readonly vm: PluginVm, readonly decIndex: number, readonly encIndex: number) {
    this.ctx = vm.newContext(vm.root.id, this);
  }

  // ---- StreamView: what properties see from this filter (header maps as this filter may reach them) ----

  get view(): StreamView { return this; }
  requestHeaders(): HeaderMap | null { return this.accessLog || this.reqHeadersVisible ? this.stream.requestHeaders : null; }
  responseHeaders(): HeaderMap | null { return this.accessLog || this.respHeadersVisible ? this.stream.responseHeaders : null; }
  responseTrailers(): HeaderMap | null { return this.accessLog || this.respTrailersVisible ? this.stream.responseTrailers : null; }
  get startNs(): bigint { return this.stream.startNs; }
  get endNs(): bigint | null { return this.stream.endNs; }
  get responseCode(): number | null { return this.stream.responseCode; }
  get responseCodeDetails(): string | null { return this.stream.details; }
  get bytesReceived(): number { return this.stream.bytesReceived; }
  get bytesSent(): number { return this.stream.bytesSent; }
  get protocol(): string { return this.stream.protocol; }
  get source(): string { return this.stream.source; }
  get destination(): string { return this.stream.destination; }
  get upstreamAddress(): string | null { return this.stream.upstream?.endpoint ?? null; }
  get routeName(): string | null { return this.stream.route?.name ?? null; }
  get clusterName(): string | null { return this.stream.upstream?.cluster ?? this.stream.route?.cluster ?? null; }
  get connectionId(): number { return this.stream.connectionId; }
  get filterState(): Map<string, Buffer> { return this.stream.filterState; }

  // ---- StreamHooks (host calls) ----

  map(type: MapType, write: boolean): HeaderMap | null {
    const s = this.stream;
    switch (type) {
      case MapType.RequestHeaders:
        return this.accessLog ? (write ? null : s.requestHeaders) : this.reqHeadersVisible ? s.requestHeaders : null;
      case MapType.RequestTrailers:
        return !this.accessLog && this.reqTrailersVisible ? s.requestTrailers : null;
      case MapType.ResponseHeaders:
        return this.accessLog ? (write ? null : s.responseHeaders) : this.respHeadersVisible ? s.responseHeaders : null;
      case MapType.ResponseTrailers:
        return this.accessLog ? (write ? null : s.responseTrailers) : this.respTrailersVisible ? s.responseTrailers : null;
      default:
        return null;
    }
  }

  mapChanged(type: MapType): void {
    // Envoy clears the route cache on any request header change (Higress: unless clear_route_cache=off).
    if (type === MapType.RequestHeaders && !this.stream.keepRoute) this.stream.routeDirty = true;
  }

  body(type: BufferType): BodyRef | null {
    if (this.accessLog) return null;
    return type === BufferType.RequestBody ? this.stream.dec.bodyFor(this.decIndex) : this.stream.enc.bodyFor(this.encIndex);
  }

  continueStream(type: StreamType): WasmResult {
    if (type === StreamType.Upstream) return WasmResult.Unimplemented;
    if (type === StreamType.Downstream) return WasmResult.Ok;
    const s = this.stream;
    // Deferred like Envoy's addAfterVmCallAction: the chain moves once the running wasm call is over.
    if (type === StreamType.Request) s.host.defer(() => s.dec.resume(this.decIndex));
    else s.host.defer(() => s.enc.resume(this.encIndex));
    // Envoy forgets the request maps after any continue (request_headers_ = nullptr & co).
    this.reqHeadersVisible = false;
    this.reqTrailersVisible = false;
    return WasmResult.Ok;
  }

  closeStream(type: StreamType): WasmResult {
    if (type === StreamType.Request || type === StreamType.Response) {
      this.stream.host.defer(() => this.stream.resetStream("wasm_close_stream"));
    }
    return WasmResult.Ok;
  }

  sendLocalResponse(status: number, details: string, body: Buffer, headers: Pairs, _grpc: number): WasmResult {
    if (this.localReplyHold) return WasmResult.BadArgument;
    this.localReplyHold = true;
    const d = details.replace(/\s/g, "_");
    this.stream.host.defer(() => this.stream.localReply(status, body, headers, d));
    return WasmResult.Ok;
  }

  setProperty(path: string, value: Buffer): WasmResult {
    const s = this.stream;
    const v = value.toString("utf8");
    // Higress's Envoy reacts to these keys besides storing them.
    if (path === "clear_route_cache") s.keepRoute = v === "off";
    else if (path === "set_decoder_buffer_limit" && /^\d+$/.test(v)) s.decoderLimit = Number(v);
    else if (path === "set_encoder_buffer_limit" && /^\d+$/.test(v)) s.encoderLimit = Number(v);
    s.filterState.set(path, value);
    return WasmResult.Ok;
  }

  setUpstreamOverrideHost(address: string): WasmResult {
    this.stream.overrideHost = address;
    return WasmResult.Ok;
  }

  upstreamHosts(): Pairs | null { return this.stream.upstreamHosts(); }

  // ---- callbacks from the filter chains ----

  private create(): void {
    if (this.created) return;
    this.created = true;
    this.vm.call("proxy_on_context_create", this.ctx, this.ctx.id, this.ctx.rootId);
  }

  /**
   * cpp-host CHECK_FAIL: fail-open skips the plugin from now on; fail-close stops the stream and answers
   * 503 "wasm_fail_stream" once. The failed filter then lets that 503 pass its own encoder callbacks
   * (in Envoy they would report StopAll again, yet clients do get the 503).
   */
  private failed<T>(open: T, closed: T): T {
    this.skip = true;
    if (this.plugin.failOpen) return open;
    this.stream.host.defer(() => this.stream.localReply(503, Buffer.alloc(0), [], "wasm_fail_stream"));
    return closed;
  }

  private headerStatus(r: number | undefined): HeaderAction {
    if (r === undefined) return HeaderAction.Continue;
    if (this.vm.localReplyInCall || r > HeaderAction.StopAllIterationAndWatermark) return HeaderAction.StopAllIterationAndWatermark;
    // ABI 0.2.0/0.2.1: cpp-host turns StopIteration into StopAllIterationAndWatermark (body callbacks
    // wait for a continue). Higress's 0_2_100 ABI keeps StopIteration (body callbacks still run).
    if (r === HeaderAction.StopIteration && this.plugin.abi !== "0_2_100") return HeaderAction.StopAllIterationAndWatermark;
    return r;
  }

  private dataStatus(r: number | undefined): DataAction {
    if (r === undefined) return DataAction.Continue;
    if (this.vm.localReplyInCall || r > DataAction.StopIterationNoBuffer) return DataAction.StopIterationNoBuffer;
    return r;
  }

  private trailerStatus(r: number | undefined): TrailerAction {
    if (r === undefined) return TrailerAction.Continue;
    return this.vm.localReplyInCall || r > TrailerAction.StopIteration ? TrailerAction.StopIteration : r;
  }

  private invoke(name: string, ...args: number[]): number | undefined {
    this.vm.localReplyInCall = false;
    return this.vm.call(name, this.ctx, this.ctx.id, ...args);
  }

  decodeHeaders(endStream: boolean): HeaderAction {
    if (this.skip) return HeaderAction.Continue;
    if (this.vm.failed) return this.failed(HeaderAction.Continue, HeaderAction.StopAllIterationAndWatermark);
    this.create();
    this.reqHeadersVisible = true;
    const r = this.invoke("proxy_on_request_headers", this.stream.requestHeaders.size, endStream ? 1 : 0);
    if (this.vm.failed) return this.failed(HeaderAction.Continue, HeaderAction.StopAllIterationAndWatermark);
    const status = this.headerStatus(r);
    if (status === HeaderAction.Continue) this.reqHeadersVisible = false;
    return status;
  }

  decodeData(body: BodyRef, endStream: boolean): DataAction {
    if (this.skip || !this.created) return DataAction.Continue;
    if (this.vm.failed) return this.failed(DataAction.Continue, DataAction.StopIterationNoBuffer);
    const r = this.invoke("proxy_on_request_body", body.data.length, endStream ? 1 : 0);
    if (this.vm.failed) return this.failed(DataAction.Continue, DataAction.StopIterationNoBuffer);
    return this.dataStatus(r);
  }

  decodeTrailers(): TrailerAction {
    if (this.skip || !this.created) return TrailerAction.Continue;
    if (this.vm.failed) return this.failed(TrailerAction.Continue, TrailerAction.StopIteration);
    this.reqTrailersVisible = true;
    const r = this.invoke("proxy_on_request_trailers", this.stream.requestTrailers?.size ?? 0);
    if (this.vm.failed) return this.failed(TrailerAction.Continue, TrailerAction.StopIteration);
    const status = this.trailerStatus(r);
    if (status === TrailerAction.Continue) this.reqTrailersVisible = false;
    return status;
  }

  encodeHeaders(endStream: boolean): HeaderAction {
    if (this.skip || !this.created) return HeaderAction.Continue;
    if (this.vm.failed) return this.failed(HeaderAction.Continue, HeaderAction.StopAllIterationAndWatermark);
    this.respHeadersVisible = true;
    const r = this.invoke("proxy_on_response_headers", this.stream.responseHeaders?.size ?? 0, endStream ? 1 : 0);
    if (this.vm.failed) return this.failed(HeaderAction.Continue, HeaderAction.StopAllIterationAndWatermark);
    const status = this.headerStatus(r);
    if (status === HeaderAction.Continue) this.respHeadersVisible = false;
    return status;
  }

  encodeData(body: BodyRef, endStream: boolean): DataAction {
    if (this.skip || !this.created) return DataAction.Continue;
    if (this.vm.failed) return this.failed(DataAction.Continue, DataAction.StopIterationNoBuffer);
    const r = this.invoke("proxy_on_response_body", body.data.length, endStream ? 1 : 0);
    if (this.vm.failed) return this.failed(DataAction.Continue, DataAction.StopIterationNoBuffer);
    return this.dataStatus(r);
  }

  encodeTrailers(): TrailerAction {
    if (this.skip || !this.created) return TrailerAction.Continue;
    if (this.vm.failed) return this.failed(TrailerAction.Continue, TrailerAction.StopIteration);
    this.respTrailersVisible = true;
    const r = this.invoke("proxy_on_response_trailers", this.stream.responseTrailers?.size ?? 0);
    if (this.vm.failed) return this.failed(TrailerAction.Continue, TrailerAction.StopIteration);
    const status = this.trailerStatus(r);
    if (status === TrailerAction.Continue) this.respTrailersVisible = false;
    return status;
  }

  /** Access-log phase. Envoy creates the context here if the filter never saw the request. */
  log(): void {
    if (this.vm.failed) return;
    this.create();
    this.accessLog = true;
    this.vm.call("proxy_on_log", this.ctx, this.ctx.id);
    this.accessLog = false;
  }

  destroy(): void {
    if (!this.vm.failed && this.created) {
      this.vm.call("proxy_on_done", this.ctx, this.ctx.id);
      this.vm.call("proxy_on_delete", this.ctx, this.ctx.id);
    }
    this.vm.deleteContext(this.ctx.id);
  }
}

/**
 * One downstream HTTP stream through a route's plugin chain to the upstream and back, like Envoy's
 * ActiveStream + FilterManager with the router as the last decoder filter.
 */
export class HttpStream {
  readonly requestHeaders: HeaderMap;
  requestTrailers: HeaderMap | null = null;
  responseHeaders: HeaderMap | null = null;
  responseTrailers: HeaderMap | null = null;
  readonly filterState = new Map<string, Buffer>();
  readonly startNs: bigint;
  endNs: bigint | null = null;
  responseCode: number | null = null;
  details: string | null = null;
  bytesReceived = 0;
  bytesSent = 0;
  readonly protocol: string;
  readonly source: string;
  readonly destination = "127.0.0.1:10000";
  readonly connectionId: number;
  route: RouteConfig | null = null;
  routeDirty = false;
  /** clear_route_cache=off: header changes keep the route (Higress). */
  keepRoute = false;
  overrideHost: string | null = null;
  decoderLimit: number | null = null;
  encoderLimit: number | null = null;
  upstream: UpstreamRecord | null = null;

  readonly dec: FilterChain;
  readonly enc: FilterChain;
  slots: FilterSlot[] = [];
  private exchange: UpstreamExchange | null = null;
  private upstreamBody: Buffer[] = [];
  /** The upstream has the whole request (end of stream or trailers sent). */
  private requestSent = false;
  private timer: NodeJS.Timeout | null = null;
  private clientHeadersSent = false;
  private clientStatus = 0;
  private clientHeaders: Pairs = [];
  private clientTrailers: Pairs | null = null;
  private chunks: Buffer[] = [];
  private finished = false;
  private wasReset = false;
  private listeners: ResponseListener[] = [];
  private resolve!: (r: HostResponse) => void;
  /** Settles when the stream ends (completed or reset). */
  readonly response: Promise<HostResponse>;

  constructor(readonly host: StreamHost, init: StreamInit) {
    this.response = new Promise((r) => (this.resolve = r));
    this.startNs = host.nowNs();
    this.connectionId = host.nextConnectionId();
    this.protocol = init.protocol ?? "HTTP/1.1";
    this.source = init.source ?? "127.0.0.1:40000";
    const h = new HeaderMap([
      [":method", init.method ?? "GET"],
      [":scheme", init.scheme ?? "http"],
      [":authority", init.authority ?? "localhost"],
      [":path", init.path ?? "/"],
    ]);
    const extra = new HeaderMap(init.headers as Pairs);
    for (const [k, v] of extra.pairs()) {
      if (k === "host") h.replace(":authority", v);
      else if (k.startsWith(":")) h.replace(k, v);
      else h.add(k, v);
    }
    // Envoy's connection manager assigns a request id before any filter runs.
    if (!h.has("x-request-id")) h.add("x-request-id", randomUUID());
    this.requestHeaders = h;

    const matched = host.matchRoute(h);
    const plugins = matched?.plugins ?? [];
    this.route = matched?.route ?? null;
    const n = plugins.length;
    this.slots = plugins.map((p, i) => new FilterSlot(this, p, p.pickVm(), i, n - 1 - i));
    this.dec = new FilterChain(n, new DecoderIO(this), () => this.decoderLimit ?? this.route?.bufferLimitBytes ?? host.bufferLimitBytes);
    this.enc = new FilterChain(n, new EncoderIO(this), () => this.encoderLimit ?? this.route?.bufferLimitBytes ?? host.bufferLimitBytes);
  }

  get done(): boolean { return this.finished; }

  listen(l: ResponseListener): void { this.listeners.push(l); }

  // ---- downstream side (the client) ----

  sendHeaders(endStream = false): void {
    this.host.run(() => {
      // Differs from Envoy on purpose: without a route no plugin runs (Envoy's listener filters would).
      if (!this.route) {
        this.localReply(404, Buffer.alloc(0), [], "route_not_found");
        return;
      }
      this.dec.startHeaders(endStream);
    });
  }

  sendData(chunk: string | Uint8Array, endStream = false): void {
    if (this.finished || this.dec.complete) return;
    const data = Buffer.from(chunk);
    this.bytesReceived += data.length;
    this.host.run(() => this.dec.startData(data, endStream));
  }

  sendTrailers(trailers: Record<string, string> | Pairs): void {
    if (this.finished || this.dec.complete) return;
    this.requestTrailers = new HeaderMap(trailers as Pairs);
    this.host.run(() => this.dec.startTrailers());
  }

  /** The client went away: plugins still get proxy_on_log/done/delete. */
  abort(): void {
    this.host.run(() => this.resetStream("downstream_remote_disconnect"));
  }

  // ---- router (the last decoder filter) ----

  routerHeaders(endStream: boolean): void {
    if (this.routeDirty && !this.keepRoute) {
      const m = this.host.matchRoute(this.requestHeaders);
      if (!m) return this.localReply(404, Buffer.alloc(0), [], "route_not_found");
      this.route = m.route;
    }
    const route = this.route!;
    const cluster = this.host.cluster(route.cluster);
    if (!cluster) return this.localReply(503, Buffer.alloc(0), [], "cluster_not_found");
    const endpoint = cluster.pick(this.overrideHost ?? undefined);
    if (!endpoint) return this.localReply(503, Buffer.from("no healthy upstream"), [], "no_healthy_upstream");
    this.upstream = { cluster: cluster.name, endpoint: endpoint.address, headers: this.requestHeaders.pairs(), body: Buffer.alloc(0), trailers: null };
    const s = this;
    this.exchange = openExchange(cluster, endpoint, {
      onHeaders: (h, eos) => s.host.run(() => s.upstreamHeaders(h, eos)),
      onData: (d, eos) => s.host.run(() => s.upstreamData(d, eos)),
      onTrailers: (t) => s.host.run(() => s.upstreamTrailers(t)),
      onFailure: (kind, detail, started) => s.host.run(() => s.upstreamFailure(kind, detail, started)),
    }, this.host.agent);
    if (route.timeoutMs) {
      this.timer = setTimeout(() => this.host.run(() => this.upstreamFailure("timeout", "", this.responseHeaders !== null)), route.timeoutMs);
    }
    this.requestSent = endStream;
    this.exchange.sendHeaders(this.requestHeaders, endStream);
  }

  routerData(data: Buffer, endStream: boolean): void {
    if (data.length) this.upstreamBody.push(data);
    this.requestSent = endStream;
    this.exchange?.sendData(data, endStream);
  }

  routerTrailers(): void {
    if (this.upstream) this.upstream.trailers = this.requestTrailers?.pairs() ?? [];
    this.requestSent = true;
    if (this.requestTrailers) this.exchange?.sendTrailers(this.requestTrailers);
  }

  private upstreamHeaders(h: HeaderMap, endStream: boolean): void {
    if (this.finished || this.enc.aborted) return;
    this.responseCode = Number(h.get(":status") ?? 0);
    this.details ??= "via_upstream";
    this.responseHeaders = h;
    if (endStream) this.upstreamDone();
    this.enc.startHeaders(endStream);
  }

  private upstreamData(d: Buffer, endStream: boolean): void {
    if (this.finished || this.enc.aborted) return;
    if (endStream) this.upstreamDone();
    this.enc.startData(d, endStream);
  }

  private upstreamTrailers(t: HeaderMap): void {
    if (this.finished || this.enc.aborted) return;
    this.responseTrailers = t;
    this.upstreamDone();
    this.enc.startTrailers();
  }

  private upstreamDone(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private upstreamFailure(kind: UpstreamFailure, detail: string, started: boolean): void {
    if (this.finished) return;
    this.upstreamDone();
    if (kind === "timeout") {
      this.exchange?.reset();
      if (started) return this.resetStream("upstream_response_timeout", true);
      return this.localReply(504, Buffer.from("upstream request timeout"), [], "upstream_response_timeout");
    }
    const reason = kind === "connect" ? "remote_connection_failure" : "connection_termination";
    if (started) return this.resetStream(`upstream_reset_after_response_started{${reason}}`, true);
    const text = kind === "connect"
      ? `upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: ${detail}`
      : "upstream connect error or disconnect/reset before headers. reset reason: connection termination";
    this.localReply(503, Buffer.from(text), [], `upstream_reset_before_response_started{${reason}}`);
  }

  // ---- local replies and resets ----

  /**
   * Envoy's sendLocalReply. Before any response reached the encoder filters, the reply goes through
   * them (every filter that saw the request, the sender included, in reverse order — Envoy's
   * "TODO: start encoding from the last decoder filter that saw the request"), the request stops and
   * the upstream is reset. Once the upstream response is being encoded it goes straight to the
   * client; once the client has response headers the stream can only be reset.
   */
  localReply(status: number, body: Buffer, headers: Pairs, details: string): void {
    if (this.finished) return;
    if (this.clientHeadersSent) return this.resetStream(details);
    this.details = details;
    this.responseCode = status;
    const h = new HeaderMap([[":status", String(status)]]);
    for (const [k, v] of headers) h.add(k, v);
    if (body.length) {
      h.replace("content-length", String(body.length));
      if (!h.has("content-type")) h.add("content-type", "text/plain");
    }
    this.dec.aborted = true;
    this.upstreamDone();
    this.exchange?.reset();
    this.exchange = null;
    if (this.responseHeaders !== null) {
      // Direct reply: the encoder chain already holds the upstream response.
      this.enc.aborted = true;
      this.responseHeaders = h;
      this.clientHeadersOut(body.length === 0);
      if (body.length) this.clientDataOut(body, true);
      return;
    }
    this.responseHeaders = h;
    this.enc.startHeaders(body.length === 0);
    if (body.length && !this.finished) this.enc.startData(body, true);
  }

  /** `upstreamCause`: the router's reason replaces `via_upstream`, as Envoy's onUpstreamAbort does. */
  resetStream(details: string, upstreamCause = false): void {
    if (this.finished) return;
    if (upstreamCause) this.details = details;
    else this.details ??= details;
    this.wasReset = true;
    this.dec.aborted = true;
    this.enc.aborted = true;
    this.upstreamDone();
    this.exchange?.reset();
    this.finish();
  }

  upstreamHosts(): Pairs | null {
    const cluster = this.route ? this.host.cluster(this.route.cluster) : undefined;
    if (!cluster) return null;
    return cluster.endpoints.map((e) => [e.address, JSON.stringify({ health_status: e.healthy ? "Healthy" : "Unhealthy", metrics: e.metricsText })]);
  }

  // ---- the client side of the encoder chain ----

  clientHeadersOut(endStream: boolean): void {
    this.clientHeadersSent = true;
    const h = this.responseHeaders!;
    this.clientStatus = Number(h.get(":status") ?? 0);
    this.clientHeaders = h.pairs();
    for (const l of this.listeners) l.headers?.(this.clientStatus, this.clientHeaders, endStream);
    if (endStream) this.finish();
  }

  clientDataOut(data: Buffer, endStream: boolean): void {
    if (data.length) {
      this.chunks.push(data);
      this.bytesSent += data.length;
    }
    for (const l of this.listeners) l.data?.(data, endStream);
    if (endStream) this.finish();
  }

  clientTrailersOut(): void {
    this.clientTrailers = this.responseTrailers?.pairs() ?? [];
    for (const l of this.listeners) l.trailers?.(this.clientTrailers);
    this.finish();
  }

  /** Stream end: access log on every filter, then done/delete (Envoy's log-then-destroy order). */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.endNs = this.host.nowNs();
    if (this.upstream) this.upstream.body = Buffer.concat(this.upstreamBody);
    this.upstreamDone();
    if (!this.requestSent) this.exchange?.reset(); // the response ended before the request did
    for (const s of this.slots) s.log();
    for (const s of this.slots) s.destroy();
    for (const l of this.listeners) l.end?.(this.wasReset);
    const body = Buffer.concat(this.chunks);
    this.resolve({
      status: this.clientStatus,
      headers: new HeaderMap(this.clientHeaders.filter(([k]) => !k.startsWith(":"))).toObject(),
      headerPairs: this.clientHeaders,
      body,
      get text() { return body.toString("utf8"); },
      json: <T>() => JSON.parse(body.toString("utf8")) as T,
      chunks: this.chunks,
      trailers: this.clientTrailers,
      details: this.details,
      localReply: this.details !== null && this.details !== "via_upstream",
      reset: this.wasReset,
      upstreamRequest: this.upstream,
      durationMs: Number(this.endNs - this.startNs) / 1e6,
      filterState: this.filterState,
    });
  }
}

/** The decoder direction: plugins in chain order, then the router. */
class DecoderIO implements ChainIO {
  constructor(private s: HttpStream) {}
  headers(i: number, eos: boolean): HeaderAction { return this.s.slots[i].decodeHeaders(eos); }
  data(i: number, body: BodyRef, eos: boolean): DataAction { return this.s.slots[i].decodeData(body, eos); }
  trailers(i: number): TrailerAction { return this.s.slots[i].decodeTrailers(); }
  sinkHeaders(eos: boolean): void { this.s.routerHeaders(eos); }
  sinkData(data: Buffer, eos: boolean): void { this.s.routerData(data, eos); }
  sinkTrailers(): void { this.s.routerTrailers(); }
  tooLarge(): void {
    this.s.host.defer(() => this.s.localReply(413, Buffer.from(LOCAL_REPLY_TEXT[413]), [], "request_payload_too_large"));
  }
}

/** The encoder direction: plugins in reverse chain order, then the client. */
class EncoderIO implements ChainIO {
  constructor(private s: HttpStream) {}
  private slot(j: number): FilterSlot { return this.s.slots[this.s.slots.length - 1 - j]; }
  headers(j: number, eos: boolean): HeaderAction { return this.slot(j).encodeHeaders(eos); }
  data(j: number, body: BodyRef, eos: boolean): DataAction { return this.slot(j).encodeData(body, eos); }
  trailers(j: number): TrailerAction { return this.slot(j).encodeTrailers(); }
  sinkHeaders(eos: boolean): void { this.s.clientHeadersOut(eos); }
  sinkData(data: Buffer, eos: boolean): void { this.s.clientDataOut(data, eos); }
  sinkTrailers(): void { this.s.clientTrailersOut(); }
  tooLarge(): void {
    this.s.host.defer(() => this.s.localReply(500, Buffer.from(LOCAL_REPLY_TEXT[500]), [], "response_payload_too_large"));
  }
}
