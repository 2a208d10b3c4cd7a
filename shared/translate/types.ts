// Shared vocabulary of the protocol translators: which protocol and API an exchange uses, the
// per-exchange state a response translator needs from its request, and the protocol-neutral
// response shapes (ChatResult, ChatEvent, ApiError) every decoder produces and every encoder reads.
import { JsonValue } from "../json";
import { SseEvent } from "../sse";
import { JsonWriter } from "./writer";
import { JsonText } from "./reader";
import { Usage } from "../usage";

export const enum Protocol { OpenAI = 0, Anthropic = 1, DashScope = 2 }
export const enum Api { Unknown = 0, Chat = 1, Embeddings = 2, Rerank = 3, Images = 4 }

export function protocolName(p: Protocol): string {
  return p == Protocol.OpenAI ? "openai" : p == Protocol.Anthropic ? "anthropic" : "dashscope";
}

/** Knobs a request translation needs beyond the body. */
export class TranslateOptions {
  /** Anthropic requires max_tokens; used (and logged) when the client sent none. */
  defaultMaxTokens: i32 = 4096;
  /** Unix seconds stamped on synthesized OpenAI responses. */
  created: i64 = 0;
  /** Id for synthesized responses when the provider gave none. */
  requestId: string = "";
  /** DashScope clients choose streaming by header (X-DashScope-SSE / Accept), not by body. */
  streamHeader: bool = false;
}

/** What the response side needs to remember about its request. */
export class Exchange {
  api: Api = Api.Unknown;
  client: Protocol = Protocol.OpenAI;
  provider: Protocol = Protocol.OpenAI;
  model: string = "";
  stream: bool = false;
  created: i64 = 0;
  requestId: string = "";
  /** OpenAI client asked for stream_options.include_usage. */
  includeUsage: bool = false;
  /** DashScope client: incremental_output (false = every event repeats the whole text so far). */
  incremental: bool = false;
  /** DashScope client: result_format "text" ({output:{text}}) instead of "message". */
  textFormat: bool = false;
  /** DashScope client used the multimodal endpoint: message content is a list of parts. */
  multimodal: bool = false;
  /** OpenAI embeddings client asked for encoding_format "base64". */
  base64: bool = false;
  /** Rerank: documents sent, so a response without document text can be completed. */
  documents: JsonValue | null = null;
  returnDocuments: bool = false;
  /** Images: requested size "W*H" (DashScope spelling) for the usage block. */
  imageSize: string = "";
}

/** Result of a request translation. `error` non-empty means: answer the client with 400. */
export class TranslatedRequest {
  /** The provider request body, UTF-8 JSON. */
  body: ArrayBuffer | null = null;
  path: string = "";
  /** Fields the target cannot express: removed, and to be logged. */
  dropped: string[] = [];
  /** Fields the target requires and the client left out, filled with a configured default. */
  defaulted: string[] = [];
  error: string = "";
  exchange: Exchange = new Exchange();
  ok(): bool { return this.error.length == 0 && this.body !== null; }
}

/** Every request translation starts here: the exchange records both ends and the model; a non-object body is an error. */
export function startRequest(client: Protocol, provider: Protocol, body: JsonValue, opts: TranslateOptions): TranslatedRequest {
  const r = new TranslatedRequest();
  const ex = r.exchange;
  ex.client = client;
  ex.provider = provider;
  ex.model = body.getString("model"); // every API's requests name it alike (chat's pivot keeps it as is)
  ex.created = opts.created;
  ex.requestId = opts.requestId;
  if (!body.isObject()) r.error = "request body must be a JSON object";
  return r;
}

export class ToolCall {
  constructor(public id: string, public name: string, public arguments: string) {}
}

/** A complete chat answer, protocol-neutral. finish uses OpenAI's words: stop|length|tool_calls|content_filter. */
export class ChatResult {
  id: string = "";
  model: string = "";
  content: string = "";
  reasoning: string = "";
  toolCalls: ToolCall[] = [];
  finish: string = "";
  usage: Usage = new Usage();
}

export const enum EventKind { Start = 0, Text = 1, Reasoning = 2, ToolCall = 3, ToolArgs = 4, Finish = 5, Usage = 6, Error = 7, Done = 8 }

/** One step of a streamed chat answer, protocol-neutral. Instances are reused (see ChatEvents). */
export class ChatEvent {
  kind: EventKind = EventKind.Done;
  private _text: string = "";
  // Or the text is still the string at `at` of the event JSON being decoded: written from there
  // unless someone asks for it as a string.
  private json: JsonText | null = null;
  private at: i32 = -1;
  /** ToolCall/ToolArgs: the tool call's position in the answer. Error: HTTP status. */
  index: i32 = 0;
  /** Start: message id. ToolCall: tool call id. Error: provider code. */
  id: string = "";
  /** Start: model. ToolCall: function name. */
  name: string = "";
  /** Start, Usage: token counts, when hasUsage. */
  usage: Usage = new Usage();
  hasUsage: bool = false;

  /** Text, Reasoning, ToolArgs: the fragment. Finish: the reason. Error: the message. */
  get text(): string {
    const j = this.json;
    if (j !== null) { this._text = j.stringAt(this.at); this.json = null; }
    return this._text;
  }
  set text(s: string) { this._text = s; this.json = null; }

  /** The text as a JSON string. */
  writeText(w: JsonWriter): void {
    const j = this.json;
    if (j !== null) j.writeString(w, this.at);
    else w.str(this._text);
  }

  /** The usage to fill in (all counts unknown until then). */
  withUsage(): Usage {
    this.hasUsage = true;
    this.usage.reset();
    return this.usage;
  }
}

/** The ChatEvents decoded from one provider event, in order; their instances are reused for the next. */
export class ChatEvents {
  private pool: ChatEvent[] = [];
  length: i32 = 0;

  add(kind: EventKind, text: string = ""): ChatEvent {
    let e: ChatEvent;
    if (this.length < this.pool.length) e = unchecked(this.pool[this.length]);
    else { e = new ChatEvent(); this.pool.push(e); }
    this.length++;
    e.kind = kind;
    e.text = text;
    e.index = 0;
    e.id = "";
    e.name = "";
    e.hasUsage = false;
    return e;
  }

  /** An event whose text is the string at `at` in j (read only if needed, before j moves on). */
  addString(kind: EventKind, j: JsonText, at: i32): ChatEvent {
    const e = this.add(kind);
    e.json = j;
    e.at = at;
    return e;
  }

  error(status: i32, message: string, code: string = ""): void {
    const e = this.add(EventKind.Error, message);
    e.index = status;
    e.id = code;
  }

  at(i: i32): ChatEvent { return unchecked(this.pool[i]); }
  clear(): void { this.length = 0; }
}

/** An error from any side, protocol-neutral. */
export class ApiError {
  constructor(public status: i32, public message: string, public code: string = "", public kind: string = "") {}
}

/** Error body plus status in the client's protocol. */
export class ClientError {
  constructor(public status: i32, public body: string) {}
}

/** Turns a provider's SSE events into ChatEvents. */
export abstract class StreamDecoder {
  abstract decode(event: SseEvent, out: ChatEvents): void;
  /** The upstream body ended: emit what closes the answer (Done, or an Error if it ended early). */
  abstract end(out: ChatEvents): void;
}

/** Writes ChatEvents as a client protocol's SSE text. */
export abstract class StreamEncoder {
  /** Done or Error written: nothing more is. */
  protected closed: bool = false;
  /** The answer's id and model as the provider named them; "" until then. */
  protected id: string = "";
  protected model: string = "";
  /** The counts reported so far, merged. */
  protected usage: Usage = new Usage();

  abstract encode(e: ChatEvent, w: JsonWriter): void;

  /** Start and Usage events: keeps the id, model and counts they carry. */
  protected remember(e: ChatEvent): void {
    if (e.id.length) this.id = e.id;
    if (e.name.length) this.model = e.name;
    if (e.hasUsage) this.usage.merge(e.usage);
  }
}

/** Push name once. */
export function note(list: string[], name: string): void {
  if (!list.includes(name)) list.push(name);
}
