// One fallback attempt: the kept client request rewritten for a target (model, path, credentials,
// protocol), and the target's answer judged and turned into the client's answer.
import { JsonValue, parseJsonBytes } from "../../shared/json";
import { SseParser } from "../../shared/sse";
import { Header, utf8, fromUtf8 } from "../../shared/proxy/hostcalls";
import {
  Api, ApiError, ChatStreamTranslator, Exchange, Protocol, Route, TranslateOptions, decodeProviderError, encodeClientError,
  translateRequest, translateResponse, translateError, detectRoute,
} from "../../shared/translate/index";
import { FallbackConfig, Target } from "./config";
import { CALL_RESET_PREFIX, CALL_TIMEOUT_BODY, Cause } from "./triggers";
import { isWholeJson, scanTopLevel, withModel } from "./scan";

/** Client headers a fallback call carries over; everything else (cookies, the client's credentials,
 *  internal headers) stays behind. */
const FORWARDED: string[] = [
  "content-type", "accept", "user-agent", "x-request-id", "traceparent", "tracestate",
  "anthropic-version", "anthropic-beta", "x-dashscope-sse",
];
export function isForwarded(name: string): bool { return FORWARDED.includes(name); }

const ANTHROPIC_VERSION = "2023-06-01";

/** The client's request as the plugin keeps it. */
export class ClientRequest {
  method: string = "POST";
  path: string = "/";
  headers: Header[] = [];
  body: ArrayBuffer = new ArrayBuffer(0);
  route: Route = new Route(Api.Unknown, Protocol.OpenAI);
  /** DashScope clients ask for SSE by header (X-DashScope-SSE / Accept). */
  streamHeader: bool = false;
  stream: bool = false;
  model: string = "";
  requestId: string = "";
  created: i64 = 0;
  private tree: JsonValue | null = null;
  private parsed: bool = false;

  /** The whole body is here: read what every request needs (a scan, no tree). */
  bodyComplete(): void {
    const top = scanTopLevel(this.body);
    this.model = top.model;
    this.stream = top.stream || this.streamHeader;
  }

  /** The parsed body, for a fallback that rewrites it (parsed once, on first use). */
  json(): JsonValue | null {
    if (!this.parsed) {
      this.parsed = true;
      const j = this.body.byteLength > 0 ? parseJsonBytes(this.body) : null;
      this.tree = j !== null && j.isObject() ? j : null;
      // The body tells DashScope's multimodal endpoint's chat from its image generation.
      this.route = detectRoute(this.path, this.tree);
    }
    return this.tree;
  }
}

/** A prepared call to one target. `error` non-empty: the request cannot be expressed for it. */
export class Call {
  headers: Header[] = [];
  body: ArrayBuffer | null = null;
  /** Set when the target speaks another protocol than the client. */
  exchange: Exchange | null = null;
  protocol: Protocol = Protocol.OpenAI;
  model: string = "";
  error: string = "";
}

export function prepareCall(req: ClientRequest, t: Target): Call {
  const call = new Call();
  const client = req.route.client;
  const target: Protocol = t.protocol < 0 ? client : <Protocol>t.protocol;
  call.protocol = target;
  call.model = t.model.length ? t.model : req.model;
  let path = t.path;
  let body: ArrayBuffer | null = req.body.byteLength ? req.body : null;
  const translating = target != client;
  if (translating) {
    const json = req.json();
    if (json === null || req.route.api == Api.Unknown) {
      call.error = "only JSON requests to a known AI API can be translated";
      return call;
    }
    const copy = json.clone();
    if (t.model.length) copy.set("model", JsonValue.newString(t.model));
    const opts = new TranslateOptions();
    opts.created = req.created;
    opts.requestId = req.requestId;
    opts.streamHeader = req.streamHeader;
    const tr = translateRequest(req.route, target, copy, opts);
    const out = tr.body;
    if (tr.error.length || out === null) { call.error = tr.error.length ? tr.error : "translation failed"; return call; }
    call.exchange = tr.exchange;
    body = out;
    if (path.length == 0) path = tr.path;
  } else {
    // Same API: the client's bytes with only the model replaced (no parse, no re-serialisation).
    if (t.model.length && body !== null && req.model != t.model) {
      const rewritten = withModel(body, t.model);
      if (rewritten !== null) body = rewritten;
    }
    if (path.length == 0) path = req.path;
  }

  const h = call.headers;
  h.push(new Header(":method", req.method));
  h.push(new Header(":path", path));
  h.push(new Header(":authority", t.authority));
  for (let i = 0; i < req.headers.length; i++) {
    const x = req.headers[i];
    // A translated request's stream switch and media type are the translator's business.
    if (translating && (x.name == "x-dashscope-sse" || x.name == "accept" || x.name.startsWith("anthropic-"))) continue;
    if (hasHeader(t.headers, x.name)) continue;
    h.push(x);
  }
  if (body !== null) {
    if (!hasHeader(h, "content-type")) h.push(new Header("content-type", "application/json"));
    h.push(new Header("content-length", body.byteLength.toString()));
  }
  if (translating && target == Protocol.DashScope && req.stream) {
    h.push(new Header("x-dashscope-sse", "enable"));
    h.push(new Header("accept", "text/event-stream"));
  }
  if (target == Protocol.Anthropic && !hasHeader(h, "anthropic-version") && !hasHeader(t.headers, "anthropic-version")) {
    h.push(new Header("anthropic-version", ANTHROPIC_VERSION));
  }
  for (let i = 0; i < t.headers.length; i++) h.push(t.headers[i]);
  call.body = body;
  return call;
}

function hasHeader(list: Header[], name: string): bool {
  for (let i = 0; i < list.length; i++) if (list[i].name == name) return true;
  return false;
}

function headerValue(list: Header[], name: string): string {
  for (let i = 0; i < list.length; i++) if (list[i].name == name) return list[i].value;
  return "";
}

// ---------------------------------------------------------------- judging an answer

/** What one attempt produced: a failure (cause != None) or the answer for the client. */
export class Verdict {
  cause: Cause = Cause.None;
  status: i32 = 0;
  /** Failure: what went wrong, for logs and the final error. */
  message: string = "";
  headers: Header[] = [];
  body: string = "";
  get failed(): bool { return this.cause != Cause.None; }
}

function failure(cause: Cause, status: i32, message: string): Verdict {
  const v = new Verdict();
  v.cause = cause;
  v.status = status;
  v.message = message;
  return v;
}

/** Response headers that describe the transfer, not the answer: Envoy sets them anew. */
function transferHeader(name: string): bool {
  return name.startsWith(":") || name == "content-length" || name == "transfer-encoding" || name == "connection" ||
    name == "keep-alive" || name == "date" || name == "server";
}

/**
 * Judges a fallback call's response (numHeaders 0: the call was reset) and builds the client's answer
 * from it: the target's status, headers and body, translated when the target speaks another protocol.
 */
export function judgeCall(cfg: FallbackConfig, req: ClientRequest, call: Call, timeoutMs: u32, status: i32, headers: Header[], raw: ArrayBuffer): Verdict {
  if (headers.length == 0 || status == 0) {
    return failure(cfg.onReset ? Cause.Reset : Cause.None, 502, "the connection was reset before the answer completed");
  }
  const text = fromUtf8(raw);
  // Envoy's async client reports a timeout or a failed connection as its own 504/503 with fixed bodies.
  if (status == 504 && text == CALL_TIMEOUT_BODY) {
    if (cfg.onTimeout) return failure(Cause.Timeout, 504, "no complete answer within " + timeoutMs.toString() + " ms");
  } else if (status == 503 && text.startsWith(CALL_RESET_PREFIX)) {
    if (cfg.onReset) return failure(Cause.Reset, 503, text);
  } else if (cfg.onStatus.has(status)) {
    return failure(Cause.Status, status, decodeProviderError(status, text).message);
  }

  const ex = call.exchange;
  const client = req.route.client;
  const ctype = headerValue(headers, "content-type");
  const sse = ctype.includes("text/event-stream");
  const v = new Verdict();
  v.status = status;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    if (transferHeader(h.name) || (ex !== null && (h.name == "content-type" || h.name == "content-encoding"))) continue;
    v.headers.push(h);
  }
  if (status < 200 || status >= 300) {
    // An answer that is not a trigger is the answer, errors included; translated into the client's shape.
    if (ex === null) { v.body = text; return v; }
    const e = translateError(client, status, text, req.requestId);
    v.status = e.status;
    v.body = e.body;
    v.headers.push(new Header("content-type", "application/json"));
    return v;
  }

  if (sse && req.route.api == Api.Chat) {
    // The whole stream is here: run it through the translator (also when the protocols match, to check it).
    let check = ex;
    if (check === null) {
      check = new Exchange();
      check.api = Api.Chat;
      check.client = client;
      check.provider = call.protocol;
      check.stream = true;
    }
    const tr = new ChatStreamTranslator(check);
    const out = tr.feed(raw) + tr.finish();
    if (tr.error.length && cfg.onMalformed) return failure(Cause.Malformed, 502, "event stream: " + tr.error);
    if (ex === null) { v.body = text; return v; }
    v.body = out;
    v.headers.push(new Header("content-type", "text/event-stream"));
    if (!hasHeader(v.headers, "cache-control")) v.headers.push(new Header("cache-control", "no-cache"));
    return v;
  }

  if (ex === null) {
    // Same API: passed on as it is, once it is known to be a whole JSON value.
    if (cfg.onMalformed && ctype.includes("json") && !isWholeJson(raw)) return failure(Cause.Malformed, 502, "the answer is not a complete JSON value");
    v.body = text;
    return v;
  }
  const parsed = parseJsonBytes(raw);
  if (parsed === null && cfg.onMalformed) return failure(Cause.Malformed, 502, "the answer is not valid JSON");
  if (parsed === null || !(parsed.isObject() || parsed.isArray())) {
    const e = encodeClientError(client, new ApiError(502, "the fallback's answer is not JSON"), req.requestId);
    v.status = e.status;
    v.body = e.body;
  } else {
    v.body = translateResponse(ex, parsed);
  }
  v.headers.push(new Header("content-type", "application/json"));
  return v;
}

/** The client's answer when every attempt failed: the last error, and what was tried, in the client's shape. */
export function exhaustedError(client: Protocol, status: i32, message: string, requestId: string): Verdict {
  const e = encodeClientError(client, new ApiError(status, message, "all_fallbacks_failed"), requestId);
  const v = new Verdict();
  v.status = e.status;
  v.body = e.body;
  v.headers.push(new Header("content-type", "application/json"));
  return v;
}

// ---------------------------------------------------------------- the primary's first event

export const enum Check { NeedMore, Good, Bad }

/**
 * Holds a streamed 2xx answer until its first event proves it is a real answer: a broken first event,
 * an in-band error event (`event: error`, `data: {"error": …}`) or a stream that ends before any event
 * is a failure the client has not seen yet.
 */
export class FirstEventCheck {
  private parser: SseParser = new SseParser();
  why: string = "";

  feed(chunk: ArrayBuffer, end: bool): Check {
    const events = this.parser.feed(chunk);
    if (end) {
      const rest = this.parser.finish();
      for (let i = 0; i < rest.length; i++) events.push(rest[i]);
    }
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      if (e.data.length == 0) continue;
      if (e.event == "error") return this.bad("the stream opened with an error event");
      if (e.data == "[DONE]") return Check.Good;
      const top = scanTopLevel(utf8(e.data));
      if (!top.ok) return this.bad("the first event is not a JSON object");
      return top.error ? this.bad("the stream opened with an error") : Check.Good;
    }
    if (this.parser.error().length) return this.bad("event stream: " + this.parser.error());
    return end ? this.bad("the stream ended before its first event") : Check.NeedMore;
  }

  private bad(why: string): Check {
    this.why = why;
    return Check.Bad;
  }
}
