// OpenAI Chat Completions responses and streams <-> protocol-neutral ChatResult / ChatEvent.
// Shapes follow https://platform.openai.com/docs/api-reference/chat/object and
// https://platform.openai.com/docs/api-reference/chat-streaming/streaming (chunks, `data: [DONE]`).
import { JsonValue, parseJson, jsonQuote } from "../json";
import { SseEvent } from "../sse";
import { ChatEvent, ChatResult, EventKind, Exchange, StreamDecoder, StreamEncoder, ToolCall, Usage, errorEvent } from "./types";
import { contentText, countAt, strAt, arrAt, objAt, firstOf } from "./util";

/** Non-standard keys the pivot may carry that a real OpenAI endpoint rejects. */
export const PIVOT_EXTENSIONS: string[] = ["top_k", "enable_thinking", "thinking_budget", "enable_search", "repetition_penalty"];

/** The pivot as sent to an OpenAI provider: extensions the pivot picked up from other protocols are dropped. */
export function pivotToOpenAI(pivot: JsonValue, dropped: string[]): JsonValue {
  for (let i = 0; i < PIVOT_EXTENSIONS.length; i++) {
    const k = PIVOT_EXTENSIONS[i];
    if (pivot.has(k)) {
      const v = pivot.get(k);
      // enable_thinking:false asks for the default behaviour of OpenAI models: nothing lost.
      if (!(k == "enable_thinking" && v !== null && v.isBool() && !v.asBool())) dropped.push(k);
      pivot.remove(k);
    }
  }
  return pivot;
}

export function openAIUsage(u: JsonValue | null): Usage {
  const r = new Usage();
  if (u === null || !u.isObject()) return r;
  r.prompt = countAt(u, "prompt_tokens");
  r.completion = countAt(u, "completion_tokens");
  r.total = countAt(u, "total_tokens");
  r.cached = countAt(u.getObject("prompt_tokens_details"), "cached_tokens");
  r.reasoning = countAt(u.getObject("completion_tokens_details"), "reasoning_tokens");
  return r;
}

export function openAIUsageJson(u: Usage): string {
  let s = "{\"prompt_tokens\":" + u.promptOr0().toString() + ",\"completion_tokens\":" + u.completionOr0().toString() +
    ",\"total_tokens\":" + u.totalOrSum().toString();
  if (u.cached >= 0) s += ",\"prompt_tokens_details\":{\"cached_tokens\":" + u.cached.toString() + "}";
  if (u.reasoning >= 0) s += ",\"completion_tokens_details\":{\"reasoning_tokens\":" + u.reasoning.toString() + "}";
  return s + "}";
}

/** Reasoning text: DeepSeek/DashScope/vLLM call it reasoning_content, newer vLLM and OpenRouter reasoning. */
function reasoningOf(m: JsonValue | null): string {
  if (m === null) return "";
  const rc = m.get("reasoning_content");
  if (rc !== null && rc.isString()) return rc.asString();
  const r = m.get("reasoning");
  return r !== null && r.isString() ? r.asString() : "";
}

export function decodeOpenAIResponse(body: JsonValue): ChatResult {
  const r = new ChatResult();
  r.id = body.getString("id");
  r.model = body.getString("model");
  const choices = body.getArray("choices");
  const choice = firstOf(choices);
  if (choice !== null) {
    const m = choice.getObject("message");
    r.content = m === null ? "" : contentText(m.get("content"));
    r.reasoning = reasoningOf(m);
    const calls = arrAt(m, "tool_calls");
    if (calls !== null) {
      const items = calls.items();
      for (let i = 0; i < items.length; i++) {
        const fn = items[i].getObject("function");
        r.toolCalls.push(new ToolCall(items[i].getString("id"), strAt(fn, "name"), strAt(fn, "arguments")));
      }
    }
    const legacy = objAt(m, "function_call");
    if (legacy !== null) r.toolCalls.push(new ToolCall("call_0", legacy.getString("name"), legacy.getString("arguments")));
    r.finish = choice.getString("finish_reason");
  }
  r.usage = openAIUsage(body.getObject("usage"));
  return r;
}

function toolCallsJson(calls: ToolCall[]): string {
  let s = "[";
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i];
    s += (i ? "," : "") + "{\"id\":" + jsonQuote(c.id) + ",\"type\":\"function\",\"function\":{\"name\":" + jsonQuote(c.name) +
      ",\"arguments\":" + jsonQuote(c.arguments) + "}}";
  }
  return s + "]";
}

export function encodeOpenAIResponse(r: ChatResult, ex: Exchange): string {
  let msg = "{\"role\":\"assistant\",\"content\":" + (r.content.length || r.toolCalls.length == 0 ? jsonQuote(r.content) : "null");
  if (r.reasoning.length) msg += ",\"reasoning_content\":" + jsonQuote(r.reasoning);
  if (r.toolCalls.length) msg += ",\"tool_calls\":" + toolCallsJson(r.toolCalls);
  msg += "}";
  return "{\"id\":" + jsonQuote(r.id.length ? r.id : "chatcmpl-" + ex.requestId) + ",\"object\":\"chat.completion\",\"created\":" +
    ex.created.toString() + ",\"model\":" + jsonQuote(r.model.length ? r.model : ex.model) +
    ",\"choices\":[{\"index\":0,\"message\":" + msg + ",\"finish_reason\":" + jsonQuote(r.finish.length ? r.finish : "stop") +
    ",\"logprobs\":null}],\"usage\":" + openAIUsageJson(r.usage) + "}";
}

export class OpenAIStreamDecoder extends StreamDecoder {
  private started: bool = false;
  private finished: bool = false;
  private done: bool = false;
  private knownTools: Set<i32> = new Set<i32>();

  decode(ev: SseEvent, out: ChatEvent[]): void {
    if (this.done) return;
    const raw = ev.data;
    if (raw.length == 0) return;
    if (raw == "[DONE]") { this.done = true; out.push(ChatEvent.of(EventKind.Done)); return; }
    const data = parseJson(raw);
    if (data === null || !data.isObject()) {
      out.push(errorEvent(502, "upstream sent a malformed stream event"));
      this.done = true;
      return;
    }
    const err = data.get("error");
    if (err !== null && !err.isNull()) {
      const status = <i32>countAt(err, "status");
      out.push(errorEvent(status > 0 ? status : 500, err.isString() ? err.asString() : strAt(err, "message"), strAt(err, "code")));
      this.done = true;
      return;
    }
    if (!this.started) {
      this.started = true;
      const e = ChatEvent.of(EventKind.Start);
      e.id = data.getString("id");
      e.name = data.getString("model");
      out.push(e);
    }
    const choices = data.getArray("choices");
    const choice = firstOf(choices);
    if (choice !== null) {
      const d = choice.getObject("delta");
      if (d !== null) {
        const reasoning = reasoningOf(d);
        if (reasoning.length) out.push(ChatEvent.of(EventKind.Reasoning, reasoning));
        const content = d.get("content");
        if (content !== null && content.isString() && content.asString().length) out.push(ChatEvent.of(EventKind.Text, content.asString()));
        const calls = d.getArray("tool_calls");
        if (calls !== null) this.toolDeltas(calls, out);
      }
      const finish = choice.get("finish_reason");
      if (finish !== null && finish.isString()) { out.push(ChatEvent.of(EventKind.Finish, finish.asString())); this.finished = true; }
    }
    const usage = data.get("usage");
    if (usage !== null && usage.isObject()) { const e = ChatEvent.of(EventKind.Usage); e.usage = openAIUsage(usage); out.push(e); }
  }

  private toolDeltas(calls: JsonValue, out: ChatEvent[]): void {
    const items = calls.items();
    for (let i = 0; i < items.length; i++) {
      const c = items[i];
      const index = <i32>c.getInt("index", i);
      const fn = c.getObject("function");
      if (!this.knownTools.has(index)) {
        this.knownTools.add(index);
        const e = ChatEvent.of(EventKind.ToolCall);
        e.index = index;
        e.id = c.getString("id");
        e.name = strAt(fn, "name");
        out.push(e);
      }
      const args = strAt(fn, "arguments");
      if (args.length) { const e = ChatEvent.of(EventKind.ToolArgs, args); e.index = index; out.push(e); }
    }
  }

  end(out: ChatEvent[]): void {
    if (this.done) return;
    this.done = true;
    out.push(this.finished ? ChatEvent.of(EventKind.Done) : errorEvent(502, "upstream stream ended before [DONE]"));
  }
}

export function openAIErrorType(status: i32): string {
  if (status == 401) return "authentication_error";
  if (status == 403) return "permission_error";
  if (status == 404) return "not_found_error";
  if (status == 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export function openAIErrorBody(status: i32, message: string, code: string): string {
  return "{\"error\":{\"message\":" + jsonQuote(message) + ",\"type\":" + jsonQuote(openAIErrorType(status)) +
    ",\"param\":null,\"code\":" + (code.length ? jsonQuote(code) : "null") + "}}";
}

export class OpenAIStreamEncoder extends StreamEncoder {
  private prefix: string = "";
  private usage: Usage = new Usage();
  private finish: string = "";
  private closed: bool = false;
  private id: string = "";
  private model: string = "";

  constructor(private ex: Exchange) { super(); }

  encode(e: ChatEvent): string {
    if (this.closed) return "";
    const k = e.kind;
    if (k == EventKind.Start) {
      if (e.id.length) this.id = e.id;
      if (e.name.length) this.model = e.name;
      const u = e.usage;
      if (u !== null) this.usage.merge(u);
      return this.chunk("{\"role\":\"assistant\",\"content\":\"\"}", "null", "");
    }
    if (k == EventKind.Text) return this.chunk("{\"content\":" + jsonQuote(e.text) + "}", "null", "");
    if (k == EventKind.Reasoning) return this.chunk("{\"reasoning_content\":" + jsonQuote(e.text) + "}", "null", "");
    if (k == EventKind.ToolCall) {
      return this.chunk("{\"tool_calls\":[{\"index\":" + e.index.toString() + ",\"id\":" + jsonQuote(e.id) +
        ",\"type\":\"function\",\"function\":{\"name\":" + jsonQuote(e.name) + ",\"arguments\":\"\"}}]}", "null", "");
    }
    if (k == EventKind.ToolArgs) {
      return this.chunk("{\"tool_calls\":[{\"index\":" + e.index.toString() + ",\"function\":{\"arguments\":" + jsonQuote(e.text) + "}}]}", "null", "");
    }
    if (k == EventKind.Usage) { const u = e.usage; if (u !== null) this.usage.merge(u); return ""; }
    if (k == EventKind.Finish) { this.finish = e.text; return ""; }
    this.closed = true;
    if (k == EventKind.Error) return "data: " + openAIErrorBody(e.index, e.text, e.id) + "\n\n";
    // Done: the finish chunk waits until here so usage can ride on it (clients without include_usage,
    // like Dify, read usage from any chunk); with include_usage it comes as OpenAI's own usage-only chunk.
    let out = "";
    const usage = this.usage.known() ? openAIUsageJson(this.usage) : "";
    if (this.finish.length) out += this.chunk("{}", jsonQuote(this.finish), this.ex.includeUsage ? "" : usage);
    if (this.ex.includeUsage && usage.length) out += "data: " + this.head() + "[],\"usage\":" + usage + "}\n\n";
    return out + "data: [DONE]\n\n";
  }

  private head(): string {
    if (this.prefix.length == 0) {
      this.prefix = "{\"id\":" + jsonQuote(this.id.length ? this.id : "chatcmpl-" + this.ex.requestId) +
        ",\"object\":\"chat.completion.chunk\",\"created\":" + this.ex.created.toString() +
        ",\"model\":" + jsonQuote(this.model.length ? this.model : this.ex.model) + ",\"choices\":";
    }
    return this.prefix;
  }

  private chunk(delta: string, finish: string, usage: string): string {
    return "data: " + this.head() + "[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":" + finish + "}]" +
      (usage.length ? ",\"usage\":" + usage : "") + "}\n\n";
  }
}
