import http from "node:http";
import type { Pairs } from "./abi.ts";
import { HeaderMap } from "./headers.ts";

export type MetricsSource = string | (() => string | Promise<string>) | { url: string };

export interface EndpointConfig {
  /** "ip:port" */
  address: string;
  healthy?: boolean;
  /** Load-balancer metrics (Prometheus text) that proxy_get_upstream_hosts reports for this endpoint. */
  metrics?: MetricsSource;
}

export interface UpstreamRequest {
  cluster: string;
  endpoint: string;
  method: string;
  path: string;
  authority: string;
  /** Request headers exactly as the filter chain left them, pseudo-headers included. */
  headers: Pairs;
  body: Buffer;
  trailers?: Pairs;
}

export type BodyChunk = string | Uint8Array;
export interface UpstreamResponse {
  status: number;
  headers?: Record<string, string> | Pairs;
  /** A whole body, or chunks (an async iterable streams them: SSE). */
  body?: BodyChunk | Iterable<BodyChunk> | AsyncIterable<BodyChunk>;
  trailers?: Record<string, string> | Pairs;
}

/** In-process upstream: receives the complete request, returns the response (possibly streamed). */
export type UpstreamHandler = (req: UpstreamRequest) => UpstreamResponse | Promise<UpstreamResponse>;

export interface ClusterConfig {
  endpoints?: Array<string | EndpointConfig>;
  /** When set, requests never touch the network: the handler answers for every endpoint. */
  handler?: UpstreamHandler;
  /** How often endpoint metrics are scraped (ms; real clock only). Default 1000. */
  metricsIntervalMs?: number;
}

export class Endpoint {
  readonly host: string;
  readonly port: number;
  healthy: boolean;
  metricsText = "";
  constructor(readonly address: string, healthy = true, public metrics?: MetricsSource) {
    const i = address.lastIndexOf(":");
    this.host = address.slice(0, i).replace(/^\[|\]$/g, "");
    this.port = Number(address.slice(i + 1));
    this.healthy = healthy;
    if (typeof metrics === "string") this.metricsText = metrics;
  }

  async scrape(): Promise<void> {
    const m = this.metrics;
    if (!m || typeof m === "string") return;
    try {
      this.metricsText = typeof m === "function" ? await m() : await fetchText(m.url);
    } catch {
      // Keep the last good scrape, as a failed scrape should not blank an endpoint's load picture.
    }
  }
}

export class Cluster {
  readonly endpoints: Endpoint[];
  private rr = 0;
  private scrapeTimer: NodeJS.Timeout | null = null;

  constructor(readonly name: string, readonly config: ClusterConfig) {
    this.endpoints = (config.endpoints ?? []).map((e) =>
      typeof e === "string" ? new Endpoint(e) : new Endpoint(e.address, e.healthy ?? true, e.metrics));
    if (config.handler && this.endpoints.length === 0) this.endpoints.push(new Endpoint(`in-process.${name}:0`));
  }

  /** Round-robin over healthy endpoints; an override host that belongs to the cluster wins. */
  pick(override?: string): Endpoint | null {
    if (override) {
      const e = this.endpoints.find((x) => x.address === override);
      if (e) return e;
    }
    const healthy = this.endpoints.filter((e) => e.healthy);
    if (healthy.length === 0) return null;
    return healthy[this.rr++ % healthy.length];
  }

  async scrapeMetrics(): Promise<void> {
    await Promise.all(this.endpoints.map((e) => e.scrape()));
  }

  startScraping(): void {
    if (this.scrapeTimer || !this.endpoints.some((e) => e.metrics && typeof e.metrics !== "string")) return;
    void this.scrapeMetrics();
    this.scrapeTimer = setInterval(() => void this.scrapeMetrics(), this.config.metricsIntervalMs ?? 1000);
    this.scrapeTimer.unref();
  }

  stop(): void {
    if (this.scrapeTimer) clearInterval(this.scrapeTimer);
    this.scrapeTimer = null;
  }
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url);
  return await res.text();
}

export type UpstreamFailure = "connect" | "reset" | "timeout";

/** Receives what comes back from an upstream exchange. */
export interface UpstreamSink {
  onHeaders(headers: HeaderMap, endStream: boolean): void;
  onData(chunk: Buffer, endStream: boolean): void;
  onTrailers(trailers: HeaderMap): void;
  /** The exchange failed; `responseStarted` tells whether headers had already been delivered. */
  onFailure(kind: UpstreamFailure, detail: string, responseStarted: boolean): void;
}

/** One request to one endpoint, fed frame by frame by the router. */
export interface UpstreamExchange {
  sendHeaders(headers: HeaderMap, endStream: boolean): void;
  sendData(chunk: Buffer, endStream: boolean): void;
  sendTrailers(trailers: HeaderMap): void;
  reset(): void;
}

export function toPairs(h: Record<string, string> | Pairs | undefined): Pairs {
  if (!h) return [];
  return Array.isArray(h) ? h.map(([k, v]) => [k.toLowerCase(), v]) : Object.entries(h).map(([k, v]) => [k.toLowerCase(), String(v)]);
}

/** Hop-by-hop headers that never cross an HTTP/1 proxy hop. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"]);

export function openExchange(cluster: Cluster, endpoint: Endpoint, sink: UpstreamSink, agent: http.Agent): UpstreamExchange {
  return cluster.config.handler
    ? new HandlerExchange(cluster, endpoint, cluster.config.handler, sink)
    : new HttpExchange(endpoint, sink, agent);
}

/** Collects the request, calls the in-process handler, streams its answer back. */
class HandlerExchange implements UpstreamExchange {
  private headers: HeaderMap | null = null;
  private body: Buffer[] = [];
  private dead = false;
  private started = false;

  constructor(private cluster: Cluster, private endpoint: Endpoint, private handler: UpstreamHandler, private sink: UpstreamSink) {}

  sendHeaders(headers: HeaderMap, endStream: boolean): void {
    this.headers = headers.clone();
    if (endStream) this.dispatch();
  }
  sendData(chunk: Buffer, endStream: boolean): void {
    if (chunk.length) this.body.push(Buffer.from(chunk));
    if (endStream) this.dispatch();
  }
  sendTrailers(_trailers: HeaderMap): void { this.dispatch(); }
  reset(): void { this.dead = true; }

  private dispatch(): void {
    const h = this.headers!;
    const req: UpstreamRequest = {
      cluster: this.cluster.name, endpoint: this.endpoint.address,
      method: h.get(":method") ?? "GET", path: h.get(":path") ?? "/", authority: h.get(":authority") ?? "",
      headers: h.pairs(), body: Buffer.concat(this.body),
    };
    // Answer on a later turn, as a real upstream would, so a plugin never sees its own request re-entered.
    setImmediate(() => void this.respond(req));
  }

  private async respond(req: UpstreamRequest): Promise<void> {
    let res: UpstreamResponse;
    try {
      res = await this.handler(req);
    } catch (e) {
      if (!this.dead) this.sink.onFailure("reset", String(e), false);
      return;
    }
    if (this.dead) return;
    const headers = new HeaderMap([[":status", String(res.status)], ...toPairs(res.headers)]);
    const trailers = toPairs(res.trailers);
    const body = res.body;
    if (body === undefined || typeof body === "string" || body instanceof Uint8Array) {
      const b = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
      this.started = true;
      this.sink.onHeaders(headers, b.length === 0 && trailers.length === 0);
      if (b.length > 0) this.sink.onData(b, trailers.length === 0);
    } else {
      this.started = true;
      this.sink.onHeaders(headers, false);
      try {
        for await (const chunk of body as AsyncIterable<BodyChunk>) {
          if (this.dead) return;
          this.sink.onData(Buffer.from(chunk), false);
        }
      } catch (e) {
        if (!this.dead) this.sink.onFailure("reset", String(e), true);
        return;
      }
      if (this.dead) return;
      if (trailers.length === 0) this.sink.onData(Buffer.alloc(0), true);
    }
    if (trailers.length > 0 && !this.dead) this.sink.onTrailers(new HeaderMap(trailers));
  }
}

/**
 * A real HTTP/1.1 request with node:http, streaming both ways. Envoy forwards content-length as the
 * filters left it; a plugin that rewrote the body without removing it would break the upstream, so
 * here the request is opened one turn after its headers: if the whole body has arrived by then,
 * content-length is set to its true size, otherwise it is dropped and the body goes chunked.
 */
class HttpExchange implements UpstreamExchange {
  private req: http.ClientRequest | null = null;
  private headers: HeaderMap | null = null;
  private early: Buffer[] = [];
  private ended = false;
  private trailers: HeaderMap | null = null;
  private started = false;
  private dead = false;

  constructor(private endpoint: Endpoint, private sink: UpstreamSink, private agent: http.Agent) {}

  sendHeaders(headers: HeaderMap, endStream: boolean): void {
    this.headers = headers.clone();
    this.ended = endStream;
    setImmediate(() => this.open());
  }

  sendData(chunk: Buffer, endStream: boolean): void {
    if (!this.req) {
      if (chunk.length) this.early.push(Buffer.from(chunk));
      this.ended ||= endStream;
      return;
    }
    if (chunk.length) this.req.write(chunk);
    if (endStream) this.req.end();
  }

  sendTrailers(trailers: HeaderMap): void {
    if (!this.req) { this.trailers = trailers; this.ended = true; return; }
    this.req.addTrailers(Object.fromEntries(trailers.pairs()));
    this.req.end();
  }

  reset(): void {
    this.dead = true;
    this.req?.destroy();
  }

  private open(): void {
    if (this.dead) return;
    const h = this.headers!;
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of h.pairs()) {
      if (k.startsWith(":") || HOP_BY_HOP.has(k) || k === "content-length") continue;
      out[k] = k in out ? ([] as string[]).concat(out[k], v) : v;
    }
    out["host"] = h.get(":authority") ?? this.endpoint.address;
    const body = Buffer.concat(this.early);
    if (this.ended && !this.trailers) out["content-length"] = String(body.length);
    const req = http.request({
      host: this.endpoint.host, port: this.endpoint.port, method: h.get(":method") ?? "GET",
      path: h.get(":path") ?? "/", headers: out, agent: this.agent,
    });
    this.req = req;
    req.on("response", (res) => this.onResponse(res));
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (this.dead) return;
      this.dead = true;
      const connect = !this.started && ["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENOTFOUND", "ETIMEDOUT"].includes(e.code ?? "");
      this.sink.onFailure(connect ? "connect" : "reset", e.code ?? e.message, this.started);
    });
    if (body.length) req.write(body);
    if (this.trailers) { req.addTrailers(Object.fromEntries(this.trailers.pairs())); req.end(); }
    else if (this.ended) req.end();
  }

  private onResponse(res: http.IncomingMessage): void {
    const pairs: Pairs = [[":status", String(res.statusCode ?? 502)]];
    for (let i = 0; i < res.rawHeaders.length; i += 2) {
      const k = res.rawHeaders[i].toLowerCase();
      if (!HOP_BY_HOP.has(k)) pairs.push([k, res.rawHeaders[i + 1]]);
    }
    this.started = true;
    this.sink.onHeaders(new HeaderMap(pairs), false);
    res.on("data", (chunk: Buffer) => { if (!this.dead) this.sink.onData(chunk, false); });
    res.on("end", () => {
      if (this.dead) return;
      this.dead = true;
      const t = Object.entries(res.trailers ?? {});
      if (t.length) this.sink.onTrailers(new HeaderMap(t as Pairs));
      else this.sink.onData(Buffer.alloc(0), true);
    });
    res.on("aborted", () => {
      if (this.dead) return;
      this.dead = true;
      this.sink.onFailure("reset", "upstream aborted", true);
    });
  }
}
