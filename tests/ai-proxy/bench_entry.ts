// Bench entry for bench/ai-proxy.ts: translates bodies and streams the host wrote into guest memory,
// the way the plugin receives them, and returns the size of what it would send on.
import { parseJsonBytes } from "../../shared/json";
import {
  Api, ChatStreamTranslator, Exchange, Protocol, Route, TranslateOptions, translateRequest,
} from "../../shared/translate/index";

let staging = new ArrayBuffer(0);

export function stage(len: i32): usize {
  if (staging.byteLength != len) staging = new ArrayBuffer(len);
  return changetype<usize>(staging);
}

/** OpenAI chat request (staged) -> provider body bytes; returns the output byte length, -1 on error. */
export function translateStagedRequest(provider: i32): i32 {
  const body = parseJsonBytes(staging);
  if (body === null) return -1;
  const tr = translateRequest(new Route(Api.Chat, Protocol.OpenAI), <Protocol>provider, body, new TranslateOptions());
  const out = tr.body;
  return out === null ? -1 : out.byteLength;
}

/** Staged provider stream, fed in chunks of `chunk` bytes -> client SSE bytes; returns the output byte length. */
export function translateStagedStream(client: i32, provider: i32, chunk: i32): i32 {
  const ex = new Exchange();
  ex.api = Api.Chat;
  ex.client = <Protocol>client;
  ex.provider = <Protocol>provider;
  ex.model = "bench";
  const t = new ChatStreamTranslator(ex);
  const n = staging.byteLength;
  let bytes = 0;
  for (let at = 0; at < n; at += chunk) {
    t.push(staging.slice(at, min(n, at + chunk)));
    bytes += t.take().byteLength;
  }
  t.end();
  return bytes + t.take().byteLength;
}

