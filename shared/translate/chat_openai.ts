// OpenAI Chat Completions responses and streams <-> protocol-neutral ChatResult / ChatEvent.
// Shapes follow https://platform.openai.com/docs/api-reference/chat/object and
// https://platform.openai.com/docs/api-reference/chat-streaming/streaming (chunks, `data: [DONE]`).
import { JsonValue } from "../json";
import { SseEvent } from "../sse";
import { ChatEvent, ChatEvents, ChatResult, EventKind, Exchange, StreamDecoder, StreamEncoder, ToolCall } from "./types";
import { Usage } from "../usage";
import { JsonText, eventJson } from "./reader";
import { JsonWriter } from "./writer";
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

/**
 * The names of a usage block in OpenAI's shape. DashScope's is the same block with its own names for
 * the prompt and output counts; both keep cached tokens in prompt_tokens_details.cached_tokens and
 * reasoning tokens in <outputDetails>.reasoning_tokens.
 */
export class UsageNames {
  constructor(public input: string, public output: string, public outputDetails: string) {}
}
export const OPENAI_USAGE = new UsageNames("prompt_tokens", "completion_tokens", "completion_tokens_details");

/** A usage block of a whole response. */
export function usageOf(u: JsonValue | null, n: UsageNames): Usage {
  const r = new Usage();
  if (u === null || !u.isObject()) return r;
  r.input = countAt(u, n.input);
  r.output = countAt(u, n.output);
  r.total = countAt(u, "total_tokens");
  r.cacheRead = countAt(u.getObject("prompt_tokens_details"), "cached_tokens");
  r.reasoning = countAt(u.getObject(n.outputDetails), "reasoning_tokens");
  return r;
}

/** The usage block of a stream event (the same fields as usageOf reads); nothing when u < 0. */
export function readUsageAt(j: JsonText, u: i32, n: UsageNames, r: Usage): void {
  if (u < 0) return;
  r.input = j.count(u, n.input);
  r.output = j.count(u, n.output);
  r.total = j.count(u, "total_tokens");
  r.cacheRead = j.count(j.getObject(u, "prompt_tokens_details"), "cached_tokens");
  r.reasoning = j.count(j.getObject(u, n.outputDetails), "reasoning_tokens");
}

/** A usage block; its required counts are 0 where unknown. */
export function writeUsage(w: JsonWriter, u: Usage, n: UsageNames): void {
  w.byte(0x7B);
  w.key(n.input); w.int(u.inputOr0());
  w.key(n.output); w.int(u.outputOr0());
  w.raw(",\"total_tokens\":"); w.int(max<i64>(u.totalTokens(), 0));
  if (u.cacheRead >= 0) { w.raw(",\"prompt_tokens_details\":{\"cached_tokens\":"); w.int(u.cacheRead); w.byte(0x7D); }
  if (u.reasoning >= 0) { w.key(n.outputDetails); w.raw("{\"reasoning_tokens\":"); w.int(u.reasoning); w.byte(0x7D); }
  w.byte(0x7D);
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
  r.usage = usageOf(body.getObject("usage"), OPENAI_USAGE);
  return r;
}

export function encodeOpenAIResponse(r: ChatResult, ex: Exchange): string {
  const w = new JsonWriter(256);
  w.raw("{\"id\":");
  w.str(r.id.length ? r.id : "chatcmpl-" + ex.requestId);
  w.raw(",\"object\":\"chat.completion\",\"created\":");
  w.int(ex.created);
  w.raw(",\"model\":");
  w.str(r.model.length ? r.model : ex.model);
  w.raw(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
  if (r.content.length || r.toolCalls.length == 0) w.str(r.content);
  else w.raw("null");
  if (r.reasoning.length) { w.raw(",\"reasoning_content\":"); w.str(r.reasoning); }
  if (r.toolCalls.length) {
    w.raw(",\"tool_calls\":[");
    for (let i = 0; i < r.toolCalls.length; i++) {
      const c = r.toolCalls[i];
      w.comma();
      w.raw("{\"id\":"); w.str(c.id);
      w.raw(",\"type\":\"function\",\"function\":{\"name\":"); w.str(c.name);
      w.raw(",\"arguments\":"); w.str(c.arguments);
      w.raw("}}");
    }
    w.byte(0x5D);
  }
  w.raw("},\"finish_reason\":");
  w.str(r.finish.length ? r.finish : "stop");
  w.raw(",\"logprobs\":null}],\"usage\":");
  writeUsage(w, r.usage, OPENAI_USAGE);
  w.byte(0x7D);
  return w.text();
}

/**
 * Streamed tool calls in OpenAI's shape (DashScope streams them the same way): a ToolCall the first
 * time an index shows up, then ToolArgs for every piece of arguments.
 */
export function toolCallDeltas(j: JsonText, calls: i32, known: Map<i32, i32>, out: ChatEvents): void {
  let i = 0;
  for (let c = j.first(calls); c >= 0; c = j.next(c), i++) {
    const index = <i32>j.getInt(c, "index", i);
    const fn = j.getObject(c, "function");
    if (!known.has(index)) {
      known.set(index, 0);
      const e = out.add(EventKind.ToolCall);
      e.index = index;
      e.id = j.getString(c, "id");
      e.name = j.getString(fn, "name");
    }
    const args = j.get(fn, "arguments");
    if (j.hasText(args)) out.addString(EventKind.ToolArgs, j, args).index = index;
  }
}

export class OpenAIStreamDecoder extends StreamDecoder {
  private started: bool = false;
  private finished: bool = false;
  private done: bool = false;
  private knownTools: Map<i32, i32> = new Map<i32, i32>();

  decode(ev: SseEvent, out: ChatEvents): void {
    if (this.done) return;
    const raw = ev.data;
    if (raw.length == 0) return;
    if (raw == "[DONE]") { this.done = true; out.add(EventKind.Done); return; }
    const j = eventJson;
    if (!j.load(raw) || !j.isObject(j.root)) {
      out.error(502, "upstream sent a malformed stream event");
      this.done = true;
      return;
    }
    const data = j.root;
    const err = j.get(data, "error");
    if (err >= 0 && !j.isNull(err)) {
      const status = <i32>j.count(err, "status");
      out.error(status > 0 ? status : 500, j.isString(err) ? j.stringAt(err) : j.getString(err, "message"), j.getString(err, "code"));
      this.done = true;
      return;
    }
    if (!this.started) {
      this.started = true;
      const e = out.add(EventKind.Start);
      e.id = j.getString(data, "id");
      e.name = j.getString(data, "model");
    }
    const choice = j.first(j.getArray(data, "choices"));
    if (choice >= 0) {
      const d = j.getObject(choice, "delta");
      if (d >= 0) {
        // Reasoning text: DeepSeek/DashScope/vLLM call it reasoning_content, newer vLLM and OpenRouter reasoning.
        let rc = j.get(d, "reasoning_content");
        if (!j.isString(rc)) rc = j.get(d, "reasoning");
        if (j.hasText(rc)) out.addString(EventKind.Reasoning, j, rc);
        const content = j.get(d, "content");
        if (j.hasText(content)) out.addString(EventKind.Text, j, content);
        const calls = j.getArray(d, "tool_calls");
        if (calls >= 0) toolCallDeltas(j, calls, this.knownTools, out);
      }
      const finish = j.get(choice, "finish_reason");
      if (j.isString(finish)) { out.add(EventKind.Finish, j.stringAt(finish)); this.finished = true; }
    }
    const usage = j.get(data, "usage");
    if (j.isObject(usage)) readUsageAt(j, usage, OPENAI_USAGE, out.add(EventKind.Usage).withUsage());
  }

  end(out: ChatEvents): void {
    if (this.done) return;
    this.done = true;
    if (this.finished) out.add(EventKind.Done);
    else out.error(502, "upstream stream ended before [DONE]");
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

export function writeOpenAIError(w: JsonWriter, status: i32, message: string, code: string): void {
  w.raw("{\"error\":{\"message\":");
  w.str(message);
  w.raw(",\"type\":");
  w.str(openAIErrorType(status));
  w.raw(",\"param\":null,\"code\":");
  if (code.length) w.str(code);
  else w.raw("null");
  w.raw("}}");
}

export class OpenAIStreamEncoder extends StreamEncoder {
  /** `data: {"id":…,"choices":` of every chunk, fixed by the first chunk written. */
  private prefix: JsonWriter | null = null;
  private finish: string = "";

  constructor(private ex: Exchange) { super(); }

  encode(e: ChatEvent, w: JsonWriter): void {
    if (this.closed) return;
    const k = e.kind;
    if (k == EventKind.Start) {
      this.remember(e);
      this.open(w);
      w.raw("{\"role\":\"assistant\",\"content\":\"\"}");
    } else if (k == EventKind.Text || k == EventKind.Reasoning) {
      this.open(w);
      w.raw(k == EventKind.Text ? "{\"content\":" : "{\"reasoning_content\":");
      e.writeText(w);
      w.byte(0x7D);
    } else if (k == EventKind.ToolCall || k == EventKind.ToolArgs) {
      this.open(w);
      w.raw("{\"tool_calls\":[{\"index\":");
      w.int(e.index);
      if (k == EventKind.ToolCall) {
        w.raw(",\"id\":");
        w.str(e.id);
        w.raw(",\"type\":\"function\",\"function\":{\"name\":");
        w.str(e.name);
        w.raw(",\"arguments\":\"\"}}]}");
      } else {
        w.raw(",\"function\":{\"arguments\":");
        e.writeText(w);
        w.raw("}}]}");
      }
    } else {
      if (k == EventKind.Usage) { this.remember(e); return; }
      if (k == EventKind.Finish) { this.finish = e.text; return; }
      this.closed = true;
      if (k == EventKind.Error) { w.raw("data: "); writeOpenAIError(w, e.index, e.text, e.id); w.raw("\n\n"); return; }
      this.done(w);
      return;
    }
    w.raw(",\"finish_reason\":null}]}\n\n");
  }

  /**
   * The finish chunk waits until the end so usage can ride on it (clients without include_usage,
   * like Dify, read usage from any chunk); with include_usage it comes as OpenAI's own usage-only chunk.
   */
  private done(w: JsonWriter): void {
    const usage = this.usage.totalTokens() >= 0; // some token count known
    if (this.finish.length) {
      this.open(w);
      w.raw("{},\"finish_reason\":");
      w.str(this.finish);
      w.raw("}]");
      if (!this.ex.includeUsage && usage) { w.raw(",\"usage\":"); writeUsage(w, this.usage, OPENAI_USAGE); }
      w.raw("}\n\n");
    }
    if (this.ex.includeUsage && usage) {
      w.append(this.head());
      w.raw("[],\"usage\":");
      writeUsage(w, this.usage, OPENAI_USAGE);
      w.raw("}\n\n");
    }
    w.raw("data: [DONE]\n\n");
  }

  private head(): JsonWriter {
    let p = this.prefix;
    if (p === null) {
      p = new JsonWriter(256);
      p.raw("data: {\"id\":");
      p.str(this.id.length ? this.id : "chatcmpl-" + this.ex.requestId);
      p.raw(",\"object\":\"chat.completion.chunk\",\"created\":");
      p.int(this.ex.created);
      p.raw(",\"model\":");
      p.str(this.model.length ? this.model : this.ex.model);
      p.raw(",\"choices\":");
      this.prefix = p;
    }
    return p;
  }

  /** A chunk up to its delta. */
  private open(w: JsonWriter): void {
    w.append(this.head());
    w.raw("[{\"index\":0,\"delta\":");
  }
}
