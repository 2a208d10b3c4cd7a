// Chat translation between any two of OpenAI, Anthropic and DashScope. Requests pass through an
// OpenAI-shaped pivot; responses and streams through the protocol-neutral ChatResult / ChatEvent.
import { JsonValue } from "../json";
import { SseParser } from "../sse";
import {
  ChatEvents, ChatResult, EventKind, Exchange, Protocol, StreamDecoder, StreamEncoder, TranslateOptions, TranslatedRequest, note, startRequest,
} from "./types";
import { JsonWriter } from "./writer";
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
const requestBody = new JsonWriter(16 << 10); // reused: each body is copied out at its size
export const ANTHROPIC_MESSAGES_PATH = "/v1/messages";

/** Client chat request -> provider chat request. `multimodalPath`: a DashScope client called the multimodal endpoint. */
export function translateChatRequest(client: Protocol, provider: Protocol, body: JsonValue, opts: TranslateOptions, multimodalPath: bool = false): TranslatedRequest {
  const r = startRequest(client, provider, body, opts);
  if (r.error.length > 0) return r;
  const ex = r.exchange;
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
  ex.stream = pivot.getBool("stream");
  const w = requestBody;
  w.reset();
  if (provider == Protocol.Anthropic) {
    openAIRequestToAnthropic(pivot, opts, r.dropped, r.defaulted, w);
    r.path = ANTHROPIC_MESSAGES_PATH;
  } else if (provider == Protocol.DashScope) {
    r.path = openAIRequestToDashScope(pivot, r.dropped, w);
  } else {
    if (client != Protocol.OpenAI) {
      pivotToOpenAI(pivot, r.dropped);
      stripReasoningHistory(pivot, r.dropped);
    }
    w.value(pivot);
    r.path = OPENAI_CHAT_PATH;
  }
  r.body = w.bytes();
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
 * Translates a provider's chat event stream to the client's, chunk by chunk: push() the bytes as they
 * arrive and end() at the end of the upstream body; take() what to send so far (UTF-8). A malformed or
 * truncated upstream stream ends in the client protocol's error event; nothing after that is forwarded.
 */
export class ChatStreamTranslator {
  private parser: SseParser = new SseParser();
  private decoder: StreamDecoder;
  private encoder: StreamEncoder;
  private events: ChatEvents = new ChatEvents();
  private out: JsonWriter = new JsonWriter();
  private ended: bool = false;
  /** Set once the client stream has been terminated (Done or Error sent). */
  closed: bool = false;
  /** The error sent to the client, if any. */
  error: string = "";

  constructor(public ex: Exchange) {
    this.decoder = newStreamDecoder(ex.provider);
    this.encoder = newStreamEncoder(ex);
  }

  push(chunk: ArrayBuffer): void {
    if (this.closed) return;
    const events = this.parser.feed(chunk);
    for (let i = 0; i < events.length && !this.closed; i++) {
      this.decoder.decode(unchecked(events[i]), this.events);
      this.drain();
    }
    const perr = this.parser.error();
    if (perr.length && !this.closed) {
      this.events.error(502, "upstream event stream is malformed: " + perr);
      this.drain();
    }
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.closed) {
      const rest = this.parser.finish();
      for (let i = 0; i < rest.length && !this.closed; i++) {
        this.decoder.decode(unchecked(rest[i]), this.events);
        this.drain();
      }
    }
    if (!this.closed) {
      this.decoder.end(this.events);
      this.drain();
    }
  }

  /** The client bytes produced since the last take(). */
  take(): ArrayBuffer {
    const bytes = this.out.bytes();
    this.out.reset();
    return bytes;
  }

  /** take() as text. */
  takeText(): string {
    const text = this.out.text();
    this.out.reset();
    return text;
  }

  feed(chunk: ArrayBuffer): string { this.push(chunk); return this.takeText(); }
  feedString(s: string): string { return this.feed(String.UTF8.encode(s)); }
  finish(): string { this.end(); return this.takeText(); }

  private drain(): void {
    const evs = this.events;
    for (let i = 0; i < evs.length && !this.closed; i++) {
      const e = evs.at(i);
      this.encoder.encode(e, this.out);
      if (e.kind == EventKind.Done || e.kind == EventKind.Error) {
        this.closed = true;
        if (e.kind == EventKind.Error) this.error = e.text;
      }
    }
    evs.clear();
  }
}
