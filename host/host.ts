import http from "node:http";
import { LOG_LEVEL_NAMES, LogLevel, type Pairs, WasmResult } from "./abi.ts";
import { type Clock, realClock } from "./clock.ts";
import { HeaderMap } from "./headers.ts";
import { MetricsRegistry } from "./metrics.ts";
import { Plugin, type PluginOptions, type Trap } from "./plugin.ts";
import { SharedData, SharedQueues } from "./shared.ts";
import { type HostResponse, HttpStream, type RouteConfig, type StreamHost, type StreamInit } from "./stream.ts";
import { Cluster, type ClusterConfig, openExchange } from "./upstream.ts";
import type { HttpCallResult, PluginVm, StreamHooks, VmServices } from "./vm.ts";

export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

export interface HostOptions {
  clusters?: Record<string, ClusterConfig>;
  /** A ManualClock makes time, ticks and metric scrapes move only through advanceTime()/tick(). */
  clock?: Clock;
  /** Envoy's log level as proxy_get_log_level reports it; lower entries are dropped. Default "info". */
  logLevel?: LogLevel | LogLevelName;
  /** Also print log entries at or above this level to stderr. */
  printLogs?: LogLevel | LogLevelName | false;
  /** Per-route buffer limit default (bytes): past it a buffering filter gets 413/500. Default 32 MiB. */
  bufferLimitBytes?: number;
  node?: { id?: string; cluster?: string };
  /** proxy_call_foreign_function targets (Envoy registers a few natively; none here by default). */
  foreignFunctions?: Record<string, (args: Buffer, stream: StreamHooks | null) => Buffer | WasmResult>;
}

export interface LogEntry {
  plugin: string;
  vm: number;
  level: LogLevel;
  levelName: LogLevelName;
  message: string;
  time: number;
}

export interface RequestInit extends StreamInit {
  /** Whole request body; an object is sent as JSON. content-length (and content-type for JSON) are added when absent. */
  body?: string | Uint8Array | object;
  /** Body in pieces, each delivered to the filter chain as its own data frame. */
  chunks?: Array<string | Uint8Array>;
  trailers?: Record<string, string>;
}

const MAX_LOGS = 20_000;

function levelOf(l: LogLevel | LogLevelName | undefined, dflt: LogLevel): LogLevel {
  if (l === undefined) return dflt;
  return typeof l === "number" ? l : (LOG_LEVEL_NAMES.indexOf(l) as LogLevel);
}

/**
 * A proxy-wasm host that runs plugins the way Higress's Envoy does. See host/README.md.
 */
export class Host implements StreamHost {
  readonly clock: Clock;
  readonly metrics = new MetricsRegistry();
  readonly traps: Trap[] = [];
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  bufferLimitBytes: number;
  logLevel: LogLevel;
  private printLevel: LogLevel | null;
  private clusters = new Map<string, Cluster>();
  private plugins = new Map<string, Plugin>();
  private routes: Array<{ route: RouteConfig; plugins: Plugin[] | null }> = [];
  private logEntries: LogEntry[] = [];
  private shared = new SharedData();
  private queues = new SharedQueues();
  private ticks = new Map<PluginVm, { periodMs: number; timer: NodeJS.Timeout | null; dueNs: bigint }>();
  private deferred: Array<() => void> = [];
  private running = false;
  private connectionIds = 0;
  private node: { id: string; cluster: string };
  private foreign: NonNullable<HostOptions["foreignFunctions"]>;
  private services: VmServices;

  constructor(opts: HostOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.logLevel = levelOf(opts.logLevel, LogLevel.Info);
    this.printLevel = opts.printLogs === undefined || opts.printLogs === false ? null : levelOf(opts.printLogs, LogLevel.Info);
    this.bufferLimitBytes = opts.bufferLimitBytes ?? 32 * 1024 * 1024;
    this.node = { id: opts.node?.id ?? "host-node", cluster: opts.node?.cluster ?? "higress-gateway" };
    this.foreign = {
      // Envoy's built-in foreign function: re-pick the route after header changes.
      clear_route_cache: (_args, stream) => {
        stream?.mapChanged(0);
        return Buffer.alloc(0);
      },
      ...opts.foreignFunctions,
    };
    for (const [name, c] of Object.entries(opts.clusters ?? {})) this.addCluster(name, c);
    this.services = this.makeServices();
  }

  // ---- configuration ----

  addCluster(name: string, config: ClusterConfig): Cluster {
    this.clusters.get(name)?.stop();
    const c = new Cluster(name, config);
    this.clusters.set(name, c);
    if (!this.clock.manual) c.startScraping();
    return c;
  }

  cluster(name: string): Cluster | undefined { return this.clusters.get(name); }

  /** Loads and configures a plugin on `vms` VMs. Throws when the plugin refuses its configuration. */
  async addPlugin(opts: PluginOptions): Promise<Plugin> {
    if (this.plugins.has(opts.name)) throw new Error(`plugin ${opts.name} already added`);
    const module = Plugin.compile(opts.wasm);
    const p = new Plugin(opts, module, this.services, (t) => this.traps.push(t), this.node);
    const since = this.logEntries.length;
    p.start(Math.max(1, opts.vms ?? 1), () =>
      this.logEntries.slice(since).filter((e) => e.plugin === opts.name && e.level >= LogLevel.Warn).slice(-10)
        .map((e) => `[${e.levelName}] ${e.message}`));
    this.plugins.set(opts.name, p);
    return p;
  }

  plugin(name: string): Plugin | undefined { return this.plugins.get(name); }

  /** Routes are matched in the order they were added. */
  addRoute(route: RouteConfig): void {
    let plugins: Plugin[] | null = null;
    if (route.plugins) {
      plugins = route.plugins.map((n) => {
        const p = this.plugins.get(n);
        if (!p) throw new Error(`route ${route.name}: unknown plugin ${n}`);
        return p;
      }).sort(Plugin.compare);
    }
    this.routes.push({ route, plugins });
  }

  matchRoute(headers: HeaderMap): { route: RouteConfig; plugins: Plugin[] } | null {
    const authority = (headers.get(":authority") ?? "").replace(/:\d+$/, "");
    const path = (headers.get(":path") ?? "/").split("?")[0];
    for (const r of this.routes) {
      const m = r.route.match ?? {};
      if (m.path !== undefined ? path !== m.path : !path.startsWith(m.prefix ?? "/")) continue;
      if (m.host && m.host !== "*" && !(m.host.startsWith("*.") ? authority.endsWith(m.host.slice(1)) : authority === m.host)) continue;
      if (m.headers && Object.entries(m.headers).some(([k, v]) => headers.get(k) !== v)) continue;
      return { route: r.route, plugins: r.plugins ?? [...this.plugins.values()].sort(Plugin.compare) };
    }
    return null;
  }

  // ---- traffic ----

  /** A stream driven step by step: sendHeaders, sendData, sendTrailers, abort; `response` settles at the end. */
  stream(init: StreamInit = {}): HttpStream {
    return new HttpStream(this, init);
  }

  /** Sends a whole request and resolves with the response once the stream ends. */
  request(init: RequestInit = {}): Promise<HostResponse> {
    let headers = init.headers;
    let chunks = init.chunks?.map((c) => Buffer.from(c));
    if (init.body !== undefined) {
      const b = init.body;
      const isJson = typeof b === "object" && !(b instanceof Uint8Array);
      chunks = [Buffer.from(isJson ? JSON.stringify(b) : (b as string | Uint8Array))];
      // What an HTTP/1.1 client sends with a known body.
      const h = new HeaderMap(headers as Pairs);
      if (isJson && !h.has("content-type")) h.add("content-type", "application/json");
      if (!h.has("content-length")) h.add("content-length", String(chunks[0].length));
      headers = h.pairs();
    }
    const s = this.stream({ ...init, headers });
    const trailers = init.trailers && Object.keys(init.trailers).length ? init.trailers : null;
    if (!chunks?.length && !trailers) {
      s.sendHeaders(true);
    } else {
      s.sendHeaders(false);
      (chunks ?? []).forEach((c, i) => s.sendData(c, i === chunks!.length - 1 && !trailers));
      if (trailers) s.sendTrailers(trailers);
    }
    return s.response;
  }

  // ---- observation and control for tests ----

  prometheusText(): string { return this.metrics.prometheusText(); }

  metric(name: string): number | undefined { return this.metrics.value(name); }

  logs(plugin?: string, minLevel: LogLevel | LogLevelName = LogLevel.Trace): LogEntry[] {
    const min = levelOf(minLevel, LogLevel.Trace);
    return this.logEntries.filter((e) => (plugin === undefined || e.plugin === plugin) && e.level >= min);
  }

  clearLogs(): void { this.logEntries = []; }

  trapCount(plugin?: string): number {
    return plugin === undefined ? this.traps.length : this.traps.filter((t) => t.plugin === plugin).length;
  }

  /** Fires proxy_on_tick now on every VM (of `plugin`) that has a tick period. */
  tick(plugin?: string): void {
    this.run(() => {
      for (const vm of this.ticks.keys()) if (plugin === undefined || vm.plugin.name === plugin) vm.tick();
    });
  }

  /** With a ManualClock: moves time forward, firing due ticks in time order. */
  advanceTime(ms: number): void {
    const clock = this.clock as Clock & { advance?: (ms: number) => void };
    if (!clock.advance) throw new Error("advanceTime needs a ManualClock");
    const target = clock.nowNs() + BigInt(Math.round(ms * 1e6));
    for (;;) {
      let next: [PluginVm, { periodMs: number; dueNs: bigint }] | null = null;
      for (const e of this.ticks) if (e[1].periodMs > 0 && e[1].dueNs <= target && (!next || e[1].dueNs < next[1].dueNs)) next = e;
      if (!next) break;
      const [vm, t] = next;
      clock.advance(Number(t.dueNs - clock.nowNs()) / 1e6);
      t.dueNs += BigInt(t.periodMs) * 1_000_000n;
      this.run(() => vm.tick());
    }
    clock.advance(Number(target - clock.nowNs()) / 1e6);
  }

  /** Scrapes every endpoint's metrics source now (the real clock also does it periodically). */
  async refreshUpstreamMetrics(): Promise<void> {
    await Promise.all([...this.clusters.values()].map((c) => c.scrapeMetrics()));
  }

  setEndpointHealth(cluster: string, address: string, healthy: boolean): void {
    const e = this.clusters.get(cluster)?.endpoints.find((x) => x.address === address);
    if (!e) throw new Error(`no endpoint ${address} in cluster ${cluster}`);
    e.healthy = healthy;
  }

  close(): void {
    for (const p of this.plugins.values()) p.close();
    for (const c of this.clusters.values()) c.stop();
    for (const t of this.ticks.values()) if (t.timer) clearInterval(t.timer);
    this.ticks.clear();
    this.agent.destroy();
  }

  // ---- StreamHost ----

  nowNs(): bigint { return this.clock.nowNs(); }

  nextConnectionId(): number { return ++this.connectionIds; }

  /** Runs an event-loop entry point, then the actions wasm calls deferred (continue, local reply…). */
  run(fn: () => void): void {
    if (this.running) { fn(); return; }
    this.running = true;
    try {
      fn();
      for (let a = this.deferred.shift(); a; a = this.deferred.shift()) a();
    } finally {
      this.running = false;
      this.deferred = [];
    }
  }

  defer(fn: () => void): void {
    if (this.running) this.deferred.push(fn);
    else this.run(fn);
  }

  // ---- VmServices ----

  private log(vm: PluginVm, level: LogLevel, message: string): void {
    if (level < this.logLevel) return;
    const e: LogEntry = { plugin: vm.plugin.name, vm: vm.index, level, levelName: LOG_LEVEL_NAMES[level], message, time: Date.now() };
    this.logEntries.push(e);
    if (this.logEntries.length > MAX_LOGS) this.logEntries.splice(0, this.logEntries.length - MAX_LOGS);
    if (this.printLevel !== null && level >= this.printLevel) process.stderr.write(`[${e.levelName}] ${vm.label}: ${message}\n`);
  }

  private setTickPeriod(vm: PluginVm, ms: number): void {
    const old = this.ticks.get(vm);
    if (old?.timer) clearInterval(old.timer);
    if (ms === 0) { this.ticks.delete(vm); return; }
    const t = { periodMs: ms, timer: null as NodeJS.Timeout | null, dueNs: this.clock.nowNs() + BigInt(ms) * 1_000_000n };
    if (!this.clock.manual) {
      t.timer = setInterval(() => this.run(() => vm.tick()), ms);
      t.timer.unref();
    }
    this.ticks.set(vm, t);
  }

  /**
   * proxy_http_call. Like Envoy's async client: an unknown cluster or a missing :method/:path/
   * :authority is BadArgument; a timeout answers 504 "upstream request timeout" and a refused
   * connection 503, both as ordinary responses; only a reset after headers reports 0 headers.
   */
  private httpCall(clusterName: string, headers: HeaderMap, body: Buffer, trailers: Pairs, timeoutMs: number,
    done: (r: HttpCallResult | null) => void): WasmResult {
    const cluster = this.clusters.get(clusterName);
    if (!cluster) return WasmResult.BadArgument;
    if (!headers.has(":method") || !headers.has(":path") || !headers.has(":authority")) return WasmResult.BadArgument;
    if (body.length) headers.replace("content-length", String(body.length));
    let finished = false;
    let timer: NodeJS.Timeout | null = null;
    const finish = (r: HttpCallResult | null) => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      done(r);
    };
    const local = (status: number, text: string): HttpCallResult => ({
      headers: new HeaderMap([[":status", String(status)], ["content-length", String(Buffer.byteLength(text))], ["content-type", "text/plain"]]),
      body: Buffer.from(text), trailers: null,
    });
    const endpoint = cluster.pick();
    if (!endpoint) {
      setImmediate(() => finish(local(503, "no healthy upstream")));
      return WasmResult.Ok;
    }
    let resHeaders: HeaderMap | null = null;
    const chunks: Buffer[] = [];
    const exchange = openExchange(cluster, endpoint, {
      onHeaders: (h, eos) => { resHeaders = h; if (eos) finish({ headers: h, body: Buffer.alloc(0), trailers: null }); },
      onData: (d, eos) => { chunks.push(d); if (eos) finish({ headers: resHeaders!, body: Buffer.concat(chunks), trailers: null }); },
      onTrailers: (t) => finish({ headers: resHeaders!, body: Buffer.concat(chunks), trailers: t }),
      onFailure: (kind, detail, started) => finish(started ? null : kind === "connect"
        ? local(503, `upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: ${detail}`)
        : local(503, "upstream connect error or disconnect/reset before headers. reset reason: connection termination")),
    }, this.agent);
    if (timeoutMs > 0) {
      timer = setTimeout(() => { exchange.reset(); finish(local(504, "upstream request timeout")); }, timeoutMs);
    }
    exchange.sendHeaders(headers, body.length === 0 && trailers.length === 0);
    if (body.length) exchange.sendData(body, trailers.length === 0);
    if (trailers.length) exchange.sendTrailers(new HeaderMap(trailers));
    return WasmResult.Ok;
  }

  private makeServices(): VmServices {
    const host = this;
    return {
      metrics: this.metrics,
      get logLevel() { return host.logLevel; },
      nowNs: () => this.clock.nowNs(),
      log: (vm, level, msg) => this.log(vm, level, msg),
      sharedGet: (vmId, key) => this.shared.get(vmId, key),
      sharedSet: (vmId, key, value, cas) => this.shared.set(vmId, key, value, cas),
      queueRegister: (vm, name) => this.queues.register(vm.plugin.vmId, name, {
        // cpp-host posts proxy_on_queue_ready to the registering VM's thread: never inside the enqueuer's call.
        notify: (token) => this.defer(() => vm.queueReady(token)),
      }),
      queueResolve: (vmId, name) => this.queues.resolve(vmId, name),
      queueEnqueue: (token, value) => this.queues.enqueue(token, value),
      queueDequeue: (token) => this.queues.dequeue(token),
      httpCall: (c, h, b, t, ms, done) => this.httpCall(c, h, b, t, ms, done),
      redisEndpoint: (name) => {
        const c = this.clusters.get(name);
        if (!c) return null;
        return () => {
          const e = c.pick();
          return e ? { host: e.host, port: e.port } : null;
        };
      },
      foreignFunction: (name) => this.foreign[name],
      run: (fn) => this.run(fn),
      setTickPeriod: (vm, ms) => this.setTickPeriod(vm, ms),
    };
  }
}
