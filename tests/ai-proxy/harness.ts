// Test-only entry: the translators behind string-in/string-out exports, for golden tests from node.
// Compiled by tests/ai-proxy/harness.mjs with --bindings esm.
import { JsonValue, parseJson, jsonNumber, jsonQuote } from "../../shared/json";
import { contentText } from "../../shared/translate/util";
import {
  Api, ChatStreamTranslator, Exchange, Protocol, TranslateOptions, detectRoute, translateError, translateRequest,
  translateResponse,
} from "../../shared/translate/index";
import { JsonText } from "../../shared/translate/reader";
import { JsonWriter } from "../../shared/translate/writer";

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

// ---- the stream event reader and the writer against shared/json (tests/ai-proxy/reader-writer.test.ts)

const reader = new JsonText();

/** Whether JsonText takes the text, and whether parseJson does: "reader,parser" as 0/1. */
export function accepts(text: string): string {
  return (reader.load(text) ? "1" : "0") + "," + (parseJson(text) !== null ? "1" : "0");
}

/** The value at a dotted path (array items by number) as each side reads it: "<reader>|<parser>". */
export function lookup(text: string, path: string): string {
  const v = parseJson(text);
  if (!reader.load(text) || v === null) return "unparsed";
  let at = reader.root;
  const segs = path.length ? path.split(".") : [];
  for (let i = 0; i < segs.length && at >= 0; i++) {
    if (reader.isArray(at)) {
      const n = arrayIndex(segs[i]);
      let item = n < 0 ? -1 : reader.first(at);
      for (let k = 0; k < n && item >= 0; k++) item = reader.next(item);
      at = item;
    } else at = reader.get(at, segs[i]);
  }
  const p = v.path(path);
  return describeAt(at) + "|" + (p === null ? "-" : describe(p));
}

/** A path segment's array index as JsonValue.path reads it: 1 to 9 digits, else -1. */
function arrayIndex(seg: string): i32 {
  if (seg.length == 0 || seg.length > 9) return -1;
  let v = 0;
  for (let i = 0; i < seg.length; i++) {
    const d = seg.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

function describeAt(at: i32): string {
  if (at < 0) return "-";
  if (reader.isString(at)) return "s:" + reader.stringAt(at);
  if (reader.isNumber(at)) return "n:" + reader.intAt(at).toString();
  if (reader.isObject(at)) return "o:" + reader.contentText(at);
  if (reader.isArray(at)) return "a:" + reader.contentText(at, "/");
  return reader.isNull(at) ? "null" : "bool";
}

function describe(v: JsonValue): string {
  if (v.isString()) return "s:" + v.asString();
  if (v.isNumber()) return "n:" + v.asInt(0).toString();
  if (v.isObject()) return "o:" + contentText(v, "");
  if (v.isArray()) return "a:" + contentText(v, "/");
  return v.isNull() ? "null" : "bool";
}

/** JsonWriter.value of the parsed text, decoded, next to JsonValue.toString(): "" when they agree. */
export function writerValue(text: string): string {
  const v = parseJson(text);
  if (v === null) return "unparsed";
  const w = new JsonWriter(16);
  w.value(v);
  const mine = w.text();
  const theirs = v.toString();
  return mine == theirs ? "" : mine + " <> " + theirs;
}

/** JsonWriter.str(s) and num(n) against jsonQuote(s) and jsonNumber(n): "" when they agree. */
export function writerScalars(s: string, n: f64): string {
  const w = new JsonWriter(16);
  w.str(s);
  w.byte(0x20);
  w.num(n);
  const mine = w.text();
  const theirs = jsonQuote(s) + " " + jsonNumber(n);
  return mine == theirs ? "" : mine + " <> " + theirs;
}

// keep JsonValue referenced for the bindings generator
export function _unused(): JsonValue { return JsonValue.newNull(); }
