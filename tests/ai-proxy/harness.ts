// Test-only entry: the translators behind string-in/string-out exports, for golden tests from node.
// Compiled by tests/ai-proxy/harness.mjs with --bindings esm.
import { JsonValue, parseJson, jsonQuote } from "../../shared/json";
import {
  Api, ChatStreamTranslator, Exchange, Protocol, TranslateOptions, detectRoute, translateError, translateRequest,
  translateResponse,
} from "../../shared/translate/index";

let exchange: Exchange = new Exchange();
let stream: ChatStreamTranslator | null = null;

function list(a: string[]): string {
  let s = "[";
  for (let i = 0; i < a.length; i++) s += (i ? "," : "") + jsonQuote(a[i]);
  return s + "]";
}

/** {error} or {path, body, dropped, defaulted, api, stream}; remembers the exchange for the answer. */
export function request(path: string, provider: i32, body: string, streamHeader: bool): string {
  const parsed = parseJson(body);
  if (parsed === null) return "{\"error\":\"malformed JSON\"}";
  const route = detectRoute(path, parsed);
  if (route.api == Api.Unknown) return "{\"error\":\"unknown path\"}";
  const opts = new TranslateOptions();
  opts.created = 1700000000;
  opts.requestId = "req-1";
  opts.streamHeader = streamHeader;
  const r = translateRequest(route, <Protocol>provider, parsed, opts);
  exchange = r.exchange;
  stream = null;
  const b = r.body;
  if (r.error.length || b === null) return "{\"error\":" + jsonQuote(r.error) + "}";
  return "{\"path\":" + jsonQuote(r.path) + ",\"body\":" + String.UTF8.decode(b) + ",\"dropped\":" + list(r.dropped) +
    ",\"defaulted\":" + list(r.defaulted) + ",\"stream\":" + (r.exchange.stream ? "true" : "false") + "}";
}

/** The provider's answer in the client's protocol, or "" when it is not JSON. */
export function response(body: string): string {
  const parsed = parseJson(body);
  if (parsed === null) return "";
  return translateResponse(exchange, parsed);
}

export function streamFeed(chunk: ArrayBuffer): string {
  let s = stream;
  if (s === null) { s = new ChatStreamTranslator(exchange); stream = s; }
  return s.feed(chunk);
}

export function streamFinish(): string {
  const s = stream;
  return s === null ? "" : s.finish();
}

/** {status, body} */
export function error(status: i32, body: string): string {
  const e = translateError(exchange.client, status, body, "req-1");
  return "{\"status\":" + e.status.toString() + ",\"body\":" + jsonQuote(e.body) + "}";
}

// keep JsonValue referenced for the bindings generator
export function _unused(): JsonValue { return JsonValue.newNull(); }
