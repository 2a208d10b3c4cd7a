// HTTP plumbing shared by every simulated upstream: start/stop, request recording,
// API-key checks, failure injection and the two response writers (JSON and SSE).
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One injected failure. Rules are matched in order; `times` limits how many requests a rule hits. */
export interface FailureSpec {
  /** Reply with this HTTP status and the provider's own error body (e.g. 500, 503, 429). */
  status?: number;
  message?: string;
  /** Sets `Retry-After` (seconds) on a forced status. */
  retryAfterS?: number;
  /** Read the request, then never answer (until the server closes). */
  hang?: boolean;
  /** Destroy the connection without answering. */
  reset?: boolean;
  /** Streaming replies only: destroy the connection after this many SSE events (mid-stream failure). */
  resetAfterEvents?: number;
  /** Answer 200 with a body that does not parse (truncated JSON, or a broken first SSE event). */
  malformed?: boolean;
  /** Wait this many real (unscaled) milliseconds before handling the request, so before the first byte. */
  firstByteDelayMs?: number;
  /** Apply to the next N matching requests only; unlimited when absent. */
  times?: number;
  /** Only these request paths; default: every path except /metrics and /health. */
  paths?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** Parsed JSON body, or undefined when the body is empty or not JSON. */
  body: any;
  receivedAt: number;
}

export interface ServerOptions {
  port?: number;
  host?: string;
  /** When non-empty, requests must present one of these keys (401 otherwise). */
  apiKeys?: string[];
  failures?: FailureSpec[];
}

export interface SimServer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  clearRequests(): void;
  inject(failure: FailureSpec): void;
  clearFailures(): void;
  close(): Promise<void>;
}

export interface ErrorInfo {
  status: number;
  /** Absent: the provider's usual message for this status. */
  message?: string;
  /** Provider-specific error code/type; the provider picks a default from the status. */
  code?: string;
}

export type ErrorRenderer = (err: ErrorInfo) => unknown;

/** Per-request view handed to a route. */
export class Ctx {
  closed = false;
  private events = 0;
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly record: RecordedRequest,
    readonly fault: FailureSpec | null,
    private readonly renderError: ErrorRenderer,
  ) {
    res.on('close', () => { this.closed = true; });
  }
  get method(): string { return this.record.method; }
  get path(): string { return this.record.path; }
  get body(): any { return this.record.body; }
  header(name: string): string {
    const v = this.req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(',') : v ?? '';
  }
  bearer(): string {
    const m = /^Bearer\s+(.+)$/i.exec(this.header('authorization'));
    return m ? m[1].trim() : '';
  }

  json(status: number, obj: unknown, headers: Record<string, string> = {}): void {
    if (this.closed) return;
    const text = this.fault?.malformed && status < 400 ? '{"malformed": ' : JSON.stringify(obj);
    this.res.writeHead(status, { 'content-type': 'application/json', ...headers });
    this.res.end(text);
  }

  error(err: ErrorInfo, headers: Record<string, string> = {}): void {
    this.json(err.status, this.renderError(err), headers);
  }

  /** Open an event stream (a no-op if the client is already gone, as are later events). */
  startStream(headers: Record<string, string> = {}): void {
    if (this.closed) return;
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      ...headers,
    });
    this.res.flushHeaders();
  }

  /** Write one complete SSE event (the caller formats it, including the blank line). */
  event(text: string): void {
    if (this.closed) return;
    if (this.fault?.malformed) {
      this.res.end('data: {"malformed": \n\n');
      this.closed = true;
      return;
    }
    this.events++;
    const limit = this.fault?.resetAfterEvents;
    if (limit !== undefined && this.events >= limit) {
      // Cut the connection once this event is on the wire: no terminating chunk, no [DONE].
      const socket = this.res.socket;
      this.res.write(text, () => socket?.destroy());
      this.closed = true;
      return;
    }
    this.res.write(text);
  }

  end(): void {
    if (!this.closed) this.res.end();
  }
}

export type Route = (ctx: Ctx) => void | Promise<void>;

export interface StartArgs {
  options: ServerOptions;
  renderError: ErrorRenderer;
  /** Where the API key is read from; default `Authorization: Bearer`. */
  presentedKey?: (ctx: Ctx) => string;
  route: Route;
  onClose?: () => void;
}

/** Health and metrics: no key needed, and not failed unless a rule names them. */
const INFRA_PATHS = ['/metrics', '/health'];

export async function startServer(args: StartArgs): Promise<SimServer> {
  const { options, renderError, route } = args;
  const failures: FailureSpec[] = (options.failures ?? []).map((f) => ({ ...f }));
  const requests: RecordedRequest[] = [];
  const keys = options.apiKeys ?? [];

  const takeFailure = (path: string): FailureSpec | null => {
    for (let i = 0; i < failures.length; i++) {
      const f = failures[i];
      const hit = f.paths ? f.paths.includes(path) : !INFRA_PATHS.includes(path);
      if (!hit) continue;
      if (f.times !== undefined) {
        f.times--;
        if (f.times <= 0) failures.splice(i, 1);
      }
      return f;
    }
    return null;
  };

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      return; // the client went away mid-body
    }
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://sim');
    let body: any;
    try { body = rawBody ? JSON.parse(rawBody) : undefined; } catch { body = undefined; }
    const record: RecordedRequest = {
      method: req.method ?? 'GET', path: url.pathname, url: req.url ?? '/',
      headers: req.headers, rawBody, body, receivedAt: Date.now(),
    };
    requests.push(record);

    const fault = takeFailure(record.path);
    const ctx = new Ctx(req, res, record, fault, renderError);
    try {
      if (fault?.firstByteDelayMs) await sleep(fault.firstByteDelayMs);
      if (fault?.reset) { req.socket.destroy(); return; }
      if (fault?.hang) return;
      if (fault?.status) {
        const headers: Record<string, string> = fault.retryAfterS !== undefined ? { 'retry-after': String(fault.retryAfterS) } : {};
        ctx.error({ status: fault.status, message: fault.message }, headers);
        return;
      }
      if (keys.length > 0 && !INFRA_PATHS.includes(record.path)) {
        const presented = (args.presentedKey ?? ((c) => c.bearer()))(ctx);
        if (!keys.includes(presented)) {
          ctx.error({ status: 401 });
          return;
        }
      }
      if (rawBody && body === undefined && req.method === 'POST') {
        ctx.error({ status: 400, message: 'request body is not valid JSON' });
        return;
      }
      await route(ctx);
    } catch (e) {
      if (!res.headersSent) ctx.error({ status: 500, message: `simulator error: ${(e as Error).message}` });
      else ctx.end();
    }
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    requests,
    clearRequests: () => { requests.length = 0; },
    inject: (f) => { failures.push({ ...f }); },
    clearFailures: () => { failures.length = 0; },
    close: () => new Promise<void>((resolve) => {
      args.onClose?.();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

/** Resolve at an absolute `performance.now()` time; immediately when already past (lets paced loops catch up). */
export function sleepUntil(t: number): Promise<void> {
  const d = t - performance.now();
  return d <= 0 ? Promise.resolve() : sleep(d);
}

/** Emit `count` items on a schedule: first after `firstMs`, then every `everyMs` (real ms). Stops if the client leaves. */
export async function paced(ctx: Ctx, count: number, firstMs: number, everyMs: number, emit: (i: number) => void): Promise<boolean> {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    await sleepUntil(t0 + firstMs + i * everyMs);
    if (ctx.closed) return false;
    emit(i);
  }
  return !ctx.closed;
}
