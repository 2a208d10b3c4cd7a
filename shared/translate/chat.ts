// Chat translation between any two of OpenAI, Anthropic and DashScope. Requests pass through an
// OpenAI-shaped pivot; responses and streams through the protocol-neutral ChatResult / ChatEvent.
import { JsonValue } from "../json";
import { SseParser } from "../sse";
import {
  ChatEvent, ChatResult, EventKind, Exchange, Protocol, StreamDecoder, StreamEncoder, TranslateOptions, TranslatedRequest,
  errorEvent, note,
} from "./types";
import {
  AnthropicStreamDecoder, AnthropicStreamEncoder, anthropicRequestToOpenAI, decodeAnthropicResponse, encodeAnthropicResponse,
  openAIRequestToAnthropic,
} from "./chat_anthropic";
import {
  DashScopeStreamDecoder, DashScopeStreamEncoder, dashScopeRequestToOpenAI, decodeDashScopeResponse, encodeDashScopeResponse,
  openAIRequestToDashScope,
} from "./chat_dashscope";
import { OpenAIStreamDecoder, OpenAIStreamEncoder, decodeOpenAIResponse, encodeOpenAIResponse, pivotToOpenAI } from "./chat_openai";

export const OPENAI_CHAT_PATH = "/v1/chat/completions";
export const ANTHROPIC_MESSAGES_PATH = "/v1/messages";

/** Client chat request -> provider chat request. `multimodalPath`: a DashScope client called the multimodal endpoint. */
export function translateChatRequest(client: Protocol, provider: Protocol, body: JsonValue, opts: TranslateOptions, multimodalPath: bool = false): TranslatedRequest {
  const r = new TranslatedRequest();
  const ex = r.exchange;
  ex.client = client;
  ex.provider = provider;
  ex.created = opts.created;
  ex.requestId = opts.requestId;
  if (!body.isObject()) { r.error = "request body must be a JSON object"; return r; }
  let pivot: JsonValue;
  if (client == Protocol.Anthropic) {
    if (body.getArray("messages") === null) { r.error = "messages: required array"; return r; }
    pivot = anthropicRequestToOpenAI(body, r.dropped);
  } else if (client == Protocol.DashScope) {
    const input = body.getObject("input");
    if (input === null) { r.error = "input: required object"; return r; }
    pivot = dashScopeRequestToOpenAI(body, opts, ex, multimodalPath, r.dropped);
  } else {
    if (body.getArray("messages") === null) { r.error = "messages: required array"; return r; }
    pivot = body;
    const so = body.getObject("stream_options");
    ex.includeUsage = so !== null && so.getBool("include_usage");
  }
  ex.model = pivot.getString("model");
  ex.stream = pivot.getBool("stream");
  if (provider == Protocol.Anthropic) {
    r.body = openAIRequestToAnthropic(pivot, opts, r.dropped, r.defaulted);
    r.path = ANTHROPIC_MESSAGES_PATH;
  } else if (provider == Protocol.DashScope) {
    const d = openAIRequestToDashScope(pivot, r.dropped);
    r.body = d.body;
    r.path = d.path;
  } else {
    if (client != Protocol.OpenAI) {
      pivotToOpenAI(pivot, r.dropped);
      stripReasoningHistory(pivot, r.dropped);
    }
    r.body = pivot;
    r.path = OPENAI_CHAT_PATH;
  }
  return r;
}

/** OpenAI rejects reasoning_content on input messages; it only ever came from other protocols' history. */
function stripReasoningHistory(pivot: JsonValue, dropped: string[]): void {
  const msgs = pivot.getArray("messages");
  if (msgs === null) return;
  const items = msgs.items();
  for (let i = 0; i < items.length; i++) if (items[i].isObject() && items[i].remove("reasoning_content")) note(dropped, "messages.reasoning_content");
}

export function decodeChatResponse(provider: Protocol, body: JsonValue): ChatResult {
  if (provider == Protocol.Anthropic) return decodeAnthropicResponse(body);
  if (provider == Protocol.DashScope) return decodeDashScopeResponse(body);
  return decodeOpenAIResponse(body);
}

export function encodeChatResponse(r: ChatResult, ex: Exchange): string {
  if (ex.client == Protocol.Anthropic) return encodeAnthropicResponse(r, ex);
  if (ex.client == Protocol.DashScope) return encodeDashScopeResponse(r, ex);
  return encodeOpenAIResponse(r, ex);
}

export function newStreamDecoder(provider: Protocol): StreamDecoder {
  if (provider == Protocol.Anthropic) return new AnthropicStreamDecoder();
  if (provider == Protocol.DashScope) return new DashScopeStreamDecoder();
  return new OpenAIStreamDecoder();
}

export function newStreamEncoder(ex: Exchange): StreamEncoder {
  if (ex.client == Protocol.Anthropic) return new AnthropicStreamEncoder(ex);
  if (ex.client == Protocol.DashScope) return new DashScopeStreamEncoder(ex);
  return new OpenAIStreamEncoder(ex);
}

/**
 * Translates a provider's chat event stream to the client's, chunk by chunk: feed() the bytes as they
 * arrive, send what it returns; finish() at the end of the upstream body. A malformed or truncated
 * upstream stream ends in the client protocol's error event; nothing after that is forwarded.
 */
export class ChatStreamTranslator {
  private parser: SseParser = new SseParser();
  private decoder: StreamDecoder;
  private encoder: StreamEncoder;
  private events: ChatEvent[] = [];
  private ended: bool = false;
  /** Set once the client stream has been terminated (Done or Error sent). */
  closed: bool = false;
  /** The error sent to the client, if any. */
  error: string = "";

  constructor(public ex: Exchange) {
    this.decoder = newStreamDecoder(ex.provider);
    this.encoder = newStreamEncoder(ex);
  }

  feed(chunk: ArrayBuffer): string {
    if (this.closed) return "";
    const events = this.parser.feed(chunk);
    let out = "";
    for (let i = 0; i < events.length && !this.closed; i++) {
      this.decoder.decode(events[i], this.events);
      out += this.drain();
    }
    const perr = this.parser.error();
    if (perr.length && !this.closed) {
      this.events.push(errorEvent(502, "upstream event stream is malformed: " + perr));
      out += this.drain();
    }
    return out;
  }

  feedString(s: string): string { return this.feed(String.UTF8.encode(s)); }

  finish(): string {
    if (this.ended) return "";
    this.ended = true;
    let out = "";
    if (!this.closed) {
      const rest = this.parser.finish();
      for (let i = 0; i < rest.length && !this.closed; i++) {
        this.decoder.decode(rest[i], this.events);
        out += this.drain();
      }
    }
    if (!this.closed) {
      this.decoder.end(this.events);
      out += this.drain();
    }
    return out;
  }

  private drain(): string {
    let out = "";
    const evs = this.events;
    for (let i = 0; i < evs.length; i++) {
      const e = evs[i];
      if (this.closed) break;
      out += this.encoder.encode(e);
      if (e.kind == EventKind.Done || e.kind == EventKind.Error) {
        this.closed = true;
        if (e.kind == EventKind.Error) this.error = e.text;
      }
    }
    evs.length = 0;
    return out;
  }
}
