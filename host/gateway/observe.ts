// What Envoy's access log and router add around the plugin chain: one access record per request
// (route, model, consumer, status, tokens, first-token latency, fallback, upstream) and route-level
// prefix rewriting.
import { Host, type HostOptions, type HostResponse, type StreamInit } from "../index.ts";
import { HttpStream } from "../stream.ts";

export interface AccessRecord {
  time: Date;
  method: string;
  path: string;
  route: string | null;
  status: number;
  /** response.code_details: via_upstream, a plugin's local-reply details, … */
  details: string | null;
  /** The model the client asked for; `served` when a plugin sent another one upstream. */
  model: string | null;
  servedModel: string | null;
  consumer: string | null;
  tokensIn: number | null;
  tokensOut: number | null;
  /** When the answer reports only a total (DashScope rerank, Dify workflows). */
  tokensTotal: number | null;
  /** Request start to the first response body byte the client got. */
  firstByteMs: number | null;
  durationMs: number;
  /** ai-fallback's account: what was tried and who answered. */
  fallback: string | null;
  /** Cluster and endpoint the router used, or the fallback target that answered. */
  upstream: string | null;
  reset: boolean;
}

export interface RouteRewrite {
  prefix: string;
  rewrite: string;
}

/** Request bytes kept to read the model from (bodies of AI requests are small; images are not read). */
const MAX_BODY_KEPT = 1 << 20;

/** A stream whose router applies the route's prefix rewrite, and which keeps the start of the request body. */
class GatewayStream extends HttpStream {
  /** The path as the client sent it (the router may rewrite it). */
  readonly clientPath: string;
  firstByteNs: bigint | null = null;
  private body: Buffer[] = [];
  private kept = 0;

  constructor(private gw: GatewayHost, init: StreamInit) {
    super(gw, init);
    this.clientPath = this.requestHeaders.get(":path") ?? "/";
  }

  override sendData(chunk: string | Uint8Array, endStream = false): void {
    if (this.kept < MAX_BODY_KEPT && chunk.length) {
      const b = Buffer.from(chunk);
      this.body.push(b);
      this.kept += b.length;
    }
    super.sendData(chunk, endStream);
  }

  override routerHeaders(endStream: boolean): void {
    // The route the router will use: re-picked after header changes, as in the base class.
    if (this.routeDirty && !this.keepRoute) {
      const m = this.gw.matchRoute(this.requestHeaders);
      if (m) { this.route = m.route; this.routeDirty = false; }
    }
    const rw = this.route ? this.gw.rewrites.get(this.route.name) : undefined;
    const path = this.requestHeaders.get(":path");
    if (rw && path?.startsWith(rw.prefix)) {
      let rest = path.slice(rw.prefix.length);
      if (rw.rewrite.endsWith("/") && rest.startsWith("/")) rest = rest.slice(1);
      this.requestHeaders.replace(":path", rw.rewrite + rest);
    }
    super.routerHeaders(endStream);
  }

  requestBody(): Buffer { return Buffer.concat(this.body); }
}

/** The host the gateway runs: streams are observed for the access log. */
export class GatewayHost extends Host {
  readonly rewrites = new Map<string, RouteRewrite>();
  private listeners: Array<(r: AccessRecord) => void> = [];
  /** Routes that are the gateway's own (admin) and stay out of the access log. */
  readonly quietRoutes = new Set<string>();
  private counters = new Map<string, number>();

  constructor(opts: HostOptions = {}) { super(opts); }

  onAccess(fn: (r: AccessRecord) => void): () => void {
    this.listeners.push(fn);
    return () => { this.listeners = this.listeners.filter((x) => x !== fn); };
  }

  override stream(init: StreamInit = {}): HttpStream {
    const s = new GatewayStream(this, init);
    s.listen({ data: (chunk) => { if (chunk.length && s.firstByteNs === null) s.firstByteNs = this.nowNs(); } });
    void s.response.then((res) => {
      if (s.route && this.quietRoutes.has(s.route.name)) return;
      const rec = accessRecord(s, res);
      this.count(rec);
      for (const l of this.listeners) l(rec);
    });
    return s;
  }

  private count(r: AccessRecord): void {
    const route = r.route ?? "none";
    const add = (key: string, n: number) => this.counters.set(key, (this.counters.get(key) ?? 0) + n);
    add(`gateway_requests_total{route="${route}",status="${r.status}"}`, 1);
    if (r.tokensIn !== null) add(`gateway_tokens_total{route="${route}",direction="in"}`, r.tokensIn);
    if (r.tokensOut !== null) add(`gateway_tokens_total{route="${route}",direction="out"}`, r.tokensOut);
    if (r.fallback !== null) add(`gateway_fallbacks_total{route="${route}"}`, 1);
  }

  /** Envoy's /stats/prometheus: the plugins' metrics plus the gateway's own request counters. */
  prometheusAll(): string {
    let out = this.prometheusText();
    const families = new Map<string, string[]>();
    for (const [k, v] of [...this.counters].sort()) {
      const name = k.slice(0, k.indexOf("{"));
      families.set(name, [...(families.get(name) ?? []), `${k} ${v}`]);
    }
    for (const [name, lines] of families) out += `# TYPE ${name} counter\n${lines.join("\n")}\n`;
    return out;
  }
}

function accessRecord(s: GatewayStream, res: HostResponse): AccessRecord {
  const reqJson = parseJson(s.requestBody());
  const upstreamJson = res.upstreamRequest ? parseJson(res.upstreamRequest.body) : null;
  const aiLog = parseJson(s.filterState.get("ai_log") ?? Buffer.alloc(0));
  const usage = usageOf(res.body, res.headers["content-type"] ?? "");
  const model = str(aiLog?.model) ?? str(reqJson?.model);
  const served = str(upstreamJson?.model);
  const servedBy = res.headers["x-ai-served-by"];
  const tried = res.headers["x-ai-fallback-tried"];
  const up = res.upstreamRequest;
  return {
    time: new Date(),
    method: s.requestHeaders.get(":method") ?? "GET",
    path: s.clientPath,
    route: s.route?.name ?? null,
    status: res.status,
    details: res.details,
    model,
    servedModel: served && served !== model ? served : null,
    consumer: s.requestHeaders.get("x-mse-consumer") ?? null,
    tokensIn: num(aiLog?.input_token) ?? usage.in,
    tokensOut: num(aiLog?.output_token) ?? usage.out,
    tokensTotal: usage.total,
    firstByteMs: s.firstByteNs === null ? null : Number(s.firstByteNs - s.startNs) / 1e6,
    durationMs: res.durationMs,
    fallback: tried ? `${tried}${servedBy ? ` -> ${servedBy}` : ""}` : null,
    upstream: tried && servedBy ? servedBy : up ? `${up.cluster}/${up.endpoint}` : null,
    reset: res.reset,
  };
}

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

function parseJson(b: Buffer): Record<string, unknown> | null {
  if (b.length === 0 || b.length > MAX_BODY_KEPT || (b[0] !== 0x7b && b[0] !== 0x20 && b[0] !== 0x0a)) return null;
  try {
    const v = JSON.parse(b.toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

interface Usage { in: number | null; out: number | null; total: number | null }

/**
 * Token counts the client-visible answer reports: OpenAI / vLLM (`usage.prompt_tokens`), Anthropic
 * (`input_tokens`, growing `output_tokens`), DashScope (`usage.input_tokens`), Dify (`metadata.usage`
 * of message_end, `data.total_tokens` of workflow_finished). For a stream the last report wins.
 */
export function usageOf(body: Buffer, contentType: string): Usage {
  const u: Usage = { in: null, out: null, total: null };
  const take = (o: Record<string, unknown> | null) => {
    if (!o) return;
    const usage = (o.usage ?? (o.message as Record<string, unknown> | undefined)?.usage ?? (o.metadata as Record<string, unknown> | undefined)?.usage) as Record<string, unknown> | undefined;
    if (usage && typeof usage === "object") {
      u.in = num(usage.prompt_tokens) ?? num(usage.input_tokens) ?? u.in;
      u.out = num(usage.completion_tokens) ?? num(usage.output_tokens) ?? u.out;
      u.total = num(usage.total_tokens) ?? u.total;
    }
    const data = o.data as Record<string, unknown> | undefined;
    if (o.event === "workflow_finished" && data) u.total = num(data.total_tokens) ?? u.total;
  };
  if (!contentType.includes("text/event-stream")) {
    take(parseJson(body));
    return u;
  }
  for (const line of body.toString("utf8").split("\n")) {
    if (!line.startsWith("data:")) continue;
    const data = line.slice(5).trim();
    if (data.includes("token")) take(parseJson(Buffer.from(data)));
  }
  return u;
}

/** One access log line: `key=value` pairs, `-` for what is not known. */
export function formatAccess(r: AccessRecord): string {
  const ms = (v: number | null) => (v === null ? "-" : `${Math.round(v)}ms`);
  const q = (v: string | null) => (v === null ? "-" : /[\s"]/.test(v) ? JSON.stringify(v) : v);
  const model = r.model === null ? "-" : r.servedModel ? `${r.model}->${r.servedModel}` : r.model;
  return [
    r.time.toISOString(), `${r.method} ${r.path}`, `route=${q(r.route)}`, `status=${r.status}${r.reset ? "(reset)" : ""}`,
    `model=${q(model)}`, `consumer=${q(r.consumer)}`, r.tokensIn === null && r.tokensOut === null && r.tokensTotal !== null ? `tokens=${r.tokensTotal}(total)` : `tokens=${r.tokensIn ?? "-"}/${r.tokensOut ?? "-"}`,
    `first_token=${ms(r.firstByteMs)}`, `total=${ms(r.durationMs)}`, `fallback=${q(r.fallback)}`, `upstream=${q(r.upstream)}`,
    r.details && r.details !== "via_upstream" ? `details=${q(r.details)}` : "",
  ].filter(Boolean).join(" ");
}
