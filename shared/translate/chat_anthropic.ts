// Anthropic Messages API <-> the OpenAI-shaped pivot.
// Shapes follow https://docs.anthropic.com/en/api/messages (request/response) and
// https://docs.anthropic.com/en/docs/build-with-claude/streaming (events).
import { JsonValue, parseJson, jsonQuote } from "../json";
import { SseEvent } from "../sse";
import {
  ChatEvent, ChatResult, EventKind, Exchange, StreamDecoder, StreamEncoder, ToolCall, TranslateOptions,
  Usage, errorEvent, note,
} from "./types";
import { contentText, copyKey, countAt, jarr, jint, jobj, jstr, splitDataUrl, strAt, stringList, objAt } from "./util";

// ---------------------------------------------------------------- requests

/** Anthropic request body -> OpenAI chat request (the pivot). Pivot extensions: top_k, enable_thinking, thinking_budget. */
export function anthropicRequestToOpenAI(src: JsonValue, dropped: string[]): JsonValue {
  const out = jobj();
  const messages = jarr();
  const system = src.get("system");
  if (system !== null && !system.isNull()) {
    if (system.isArray() && hasCacheControl(system)) note(dropped, "system.cache_control");
    messages.push(jobj().set("role", jstr("system")).set("content", jstr(contentText(system, "\n"))));
  }
  const keys = src.keys();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = src.get(k);
    if (v === null || v.isNull()) continue;
    if (k == "model" || k == "max_tokens" || k == "temperature" || k == "top_p" || k == "top_k" || k == "stream") out.set(k, v);
    else if (k == "system") continue;
    else if (k == "messages") anthropicMessagesToOpenAI(v, messages, dropped);
    else if (k == "stop_sequences") out.set("stop", v);
    else if (k == "tools") anthropicToolsToOpenAI(v, out, dropped);
    else if (k == "tool_choice") anthropicToolChoiceToOpenAI(v, out, dropped);
    else if (k == "metadata") {
      const uid = v.get("user_id");
      if (uid !== null && uid.isString()) out.set("user", uid);
      const mk = v.keys();
      for (let j = 0; j < mk.length; j++) if (mk[j] != "user_id") note(dropped, "metadata." + mk[j]);
    } else if (k == "thinking") {
      const t = v.getString("type");
      if (t == "enabled") {
        out.set("enable_thinking", JsonValue.newBool(true));
        copyKey(v, out, "budget_tokens", "thinking_budget");
      } else if (t == "disabled") out.set("enable_thinking", JsonValue.newBool(false));
      else note(dropped, "thinking");
    } else note(dropped, k);
  }
  out.set("messages", messages);
  if (src.getBool("stream")) out.set("stream_options", jobj().set("include_usage", JsonValue.newBool(true)));
  return out;
}

function hasCacheControl(blocks: JsonValue): bool {
  const items = blocks.items();
  for (let i = 0; i < items.length; i++) if (items[i].isObject() && items[i].has("cache_control")) return true;
  return false;
}

function anthropicMessagesToOpenAI(src: JsonValue, out: JsonValue, dropped: string[]): void {
  const msgs = src.items();
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (!m.isObject()) continue;
    const role = m.getString("role");
    const content = m.get("content");
    if (content === null || content.isString()) {
      out.push(jobj().set("role", jstr(role)).set("content", content === null ? jstr("") : content));
      continue;
    }
    const parts = jarr();
    const toolCalls = jarr();
    let reasoning = "";
    const blocks = content.items();
    for (let j = 0; j < blocks.length; j++) {
      const b = blocks[j];
      if (!b.isObject()) continue;
      if (b.has("cache_control")) note(dropped, "messages.content.cache_control");
      const t = b.getString("type");
      if (t == "text") parts.push(jobj().set("type", jstr("text")).set("text", jstr(b.getString("text"))));
      else if (t == "image") {
        const url = anthropicImageUrl(b.getObject("source"));
        if (url.length) parts.push(jobj().set("type", jstr("image_url")).set("image_url", jobj().set("url", jstr(url))));
        else note(dropped, "messages.content.image.source");
      } else if (t == "tool_use") {
        const input = b.get("input");
        toolCalls.push(jobj().set("id", jstr(b.getString("id"))).set("type", jstr("function")).set("function",
          jobj().set("name", jstr(b.getString("name"))).set("arguments", jstr(input === null ? "{}" : input.toString()))));
      } else if (t == "tool_result") {
        // OpenAI wants tool results as their own messages, right after the assistant's tool calls.
        if (b.getBool("is_error")) note(dropped, "messages.content.tool_result.is_error");
        const rc = b.get("content");
        if (rc !== null && rc.isArray() && hasNonText(rc)) note(dropped, "messages.content.tool_result.content.image");
        out.push(jobj().set("role", jstr("tool")).set("tool_call_id", jstr(b.getString("tool_use_id")))
          .set("content", jstr(contentText(rc, "\n"))));
      } else if (t == "thinking") {
        reasoning += b.getString("thinking");
      } else note(dropped, "messages.content." + t);
    }
    if (role == "assistant") {
      const msg = jobj().set("role", jstr("assistant"));
      const text = contentText(parts);
      msg.set("content", text.length || toolCalls.length == 0 ? jstr(text) : JsonValue.newNull());
      if (reasoning.length) msg.set("reasoning_content", jstr(reasoning));
      if (toolCalls.length) msg.set("tool_calls", toolCalls);
      out.push(msg);
    } else if (parts.length) {
      const only = parts.length == 1 ? parts.at(0) : null;
      const single = only !== null && only.getString("type") == "text";
      out.push(jobj().set("role", jstr(role)).set("content", single ? jstr(contentText(parts)) : parts));
    }
  }
}

function hasNonText(blocks: JsonValue): bool {
  const items = blocks.items();
  for (let i = 0; i < items.length; i++) if (items[i].isObject() && items[i].getString("type") != "text") return true;
  return false;
}

function anthropicImageUrl(source: JsonValue | null): string {
  if (source === null) return "";
  const t = source.getString("type");
  if (t == "base64") return "data:" + source.getString("media_type") + ";base64," + source.getString("data");
  if (t == "url") return source.getString("url");
  return "";
}

function anthropicToolsToOpenAI(src: JsonValue, out: JsonValue, dropped: string[]): void {
  const tools = jarr();
  const items = src.items();
  for (let i = 0; i < items.length; i++) {
    const t = items[i];
    if (!t.isObject()) continue;
    const type = t.getString("type", "custom");
    // Server tools (web_search_*, bash_*, ...) run at Anthropic; nothing else can run them.
    if (type != "custom" || !t.has("input_schema")) { note(dropped, "tools." + (t.has("name") ? t.getString("name") : type)); continue; }
    const fn = jobj().set("name", jstr(t.getString("name")));
    copyKey(t, fn, "description");
    copyKey(t, fn, "input_schema", "parameters");
    if (t.has("cache_control")) note(dropped, "tools.cache_control");
    tools.push(jobj().set("type", jstr("function")).set("function", fn));
  }
  if (tools.length) out.set("tools", tools);
}

function anthropicToolChoiceToOpenAI(v: JsonValue, out: JsonValue, dropped: string[]): void {
  const t = v.getString("type");
  if (t == "auto") out.set("tool_choice", jstr("auto"));
  else if (t == "any") out.set("tool_choice", jstr("required"));
  else if (t == "none") out.set("tool_choice", jstr("none"));
  else if (t == "tool") out.set("tool_choice", jobj().set("type", jstr("function")).set("function", jobj().set("name", jstr(v.getString("name")))));
  else { note(dropped, "tool_choice"); return; }
  if (v.getBool("disable_parallel_tool_use")) out.set("parallel_tool_calls", JsonValue.newBool(false));
}

/** OpenAI chat request (pivot) -> Anthropic request body. */
export function openAIRequestToAnthropic(src: JsonValue, opts: TranslateOptions, dropped: string[], defaulted: string[]): JsonValue {
  const out = jobj();
  const system = jarr();
  const messages = jarr();
  let maxTokens: JsonValue | null = null;
  let toolChoice: JsonValue | null = null;
  let noParallel = false;
  const keys = src.keys();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = src.get(k);
    if (v === null || v.isNull()) continue;
    if (k == "model" || k == "temperature" || k == "top_p" || k == "top_k" || k == "stream") out.set(k, v);
    else if (k == "messages") openAIMessagesToAnthropic(v, system, messages, dropped);
    else if (k == "max_tokens" || k == "max_completion_tokens") maxTokens = v;
    else if (k == "stop") { const s = stringList(v); if (s.length) { const a = jarr(); for (let j = 0; j < s.length; j++) a.push(jstr(s[j])); out.set("stop_sequences", a); } }
    else if (k == "tools") openAIToolsToAnthropic(v, out, dropped);
    else if (k == "tool_choice") toolChoice = openAIToolChoiceToAnthropic(v, dropped);
    else if (k == "parallel_tool_calls") noParallel = v.isBool() && !v.asBool();
    else if (k == "user") out.set("metadata", jobj().set("user_id", v));
    else if (k == "enable_thinking") {
      if (!v.asBool()) continue;
      const budget = src.get("thinking_budget");
      if (budget !== null && budget.isNumber()) out.set("thinking", jobj().set("type", jstr("enabled")).set("budget_tokens", budget));
      else note(dropped, "enable_thinking"); // Anthropic needs a budget; inventing one would change the request
    } else if (k == "thinking_budget") continue;
    else if (k == "stream_options") continue; // Anthropic always reports usage
    else if (k == "n") { if (v.asInt(1) != 1) note(dropped, "n"); }
    else if (k == "response_format") { if (v.getString("type") != "text") note(dropped, "response_format"); }
    else note(dropped, k);
  }
  if (system.length) out.set("system", system);
  out.set("messages", messages);
  if (maxTokens === null) {
    out.set("max_tokens", jint(opts.defaultMaxTokens));
    note(defaulted, "max_tokens=" + opts.defaultMaxTokens.toString());
  } else out.set("max_tokens", maxTokens);
  if (noParallel) {
    if (toolChoice === null) toolChoice = jobj().set("type", jstr("auto"));
    if (toolChoice.getString("type") != "none") toolChoice.set("disable_parallel_tool_use", JsonValue.newBool(true));
  }
  if (toolChoice !== null) out.set("tool_choice", toolChoice);
  return out;
}

function openAIMessagesToAnthropic(src: JsonValue, system: JsonValue, out: JsonValue, dropped: string[]): void {
  const msgs = src.items();
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (!m.isObject()) continue;
    const role = m.getString("role");
    if (m.has("name")) note(dropped, "messages.name");
    const content = m.get("content");
    if (role == "system" || role == "developer") {
      system.push(jobj().set("type", jstr("text")).set("text", jstr(contentText(content, "\n"))));
      continue;
    }
    const blocks = jarr();
    if (role == "tool") {
      blocks.push(jobj().set("type", jstr("tool_result")).set("tool_use_id", jstr(m.getString("tool_call_id")))
        .set("content", jstr(contentText(content, "\n"))));
      appendMessage(out, "user", blocks);
      continue;
    }
    if (role != "user" && role != "assistant") { note(dropped, "messages.role." + role); continue; }
    if (content !== null && content.isArray()) openAIPartsToAnthropic(content, blocks, dropped);
    else {
      const text = contentText(content);
      if (text.length) blocks.push(jobj().set("type", jstr("text")).set("text", jstr(text)));
    }
    if (role == "assistant") {
      if (m.has("reasoning_content")) note(dropped, "messages.reasoning_content"); // Anthropic needs its signature
      const calls = m.getArray("tool_calls");
      if (calls !== null) {
        const items = calls.items();
        for (let j = 0; j < items.length; j++) {
          const fn = items[j].getObject("function");
          const args = strAt(fn, "arguments");
          let input = args.length ? parseJson(args) : jobj();
          if (input === null || !input.isObject()) { note(dropped, "messages.tool_calls.arguments"); input = jobj(); }
          blocks.push(jobj().set("type", jstr("tool_use")).set("id", jstr(items[j].getString("id")))
            .set("name", jstr(strAt(fn, "name"))).set("input", input));
        }
      }
    }
    appendMessage(out, role, blocks);
  }
}

/** Anthropic wants strictly alternating roles: consecutive messages of one role merge. */
function appendMessage(out: JsonValue, role: string, blocks: JsonValue): void {
  const n = out.length;
  const last = n > 0 ? out.at(n - 1) : null;
  if (last !== null && last.getString("role") == role) {
    const prev = last.getArray("content");
    if (prev !== null) { const b = blocks.items(); for (let i = 0; i < b.length; i++) prev.push(b[i]); return; }
  }
  out.push(jobj().set("role", jstr(role)).set("content", blocks));
}

function openAIPartsToAnthropic(parts: JsonValue, blocks: JsonValue, dropped: string[]): void {
  const items = parts.items();
  for (let i = 0; i < items.length; i++) {
    const p = items[i];
    if (p.isString()) { blocks.push(jobj().set("type", jstr("text")).set("text", p)); continue; }
    const t = p.getString("type");
    if (t == "text") blocks.push(jobj().set("type", jstr("text")).set("text", jstr(p.getString("text"))));
    else if (t == "image_url") {
      const iu = p.get("image_url");
      const url = iu === null ? "" : iu.isString() ? iu.asString() : iu.getString("url");
      const data = splitDataUrl(url);
      const source = data !== null && data.length == 2
        ? jobj().set("type", jstr("base64")).set("media_type", jstr(data[0])).set("data", jstr(data[1]))
        : jobj().set("type", jstr("url")).set("url", jstr(url));
      if (iu !== null && iu.isObject() && iu.has("detail")) note(dropped, "messages.content.image_url.detail");
      blocks.push(jobj().set("type", jstr("image")).set("source", source));
    } else note(dropped, "messages.content." + t);
  }
}

function openAIToolsToAnthropic(src: JsonValue, out: JsonValue, dropped: string[]): void {
  const tools = jarr();
  const items = src.items();
  for (let i = 0; i < items.length; i++) {
    const t = items[i];
    const fn = t.getObject("function");
    if (t.getString("type") != "function" || fn === null) { note(dropped, "tools." + t.getString("type")); continue; }
    const tool = jobj().set("name", jstr(fn.getString("name")));
    copyKey(fn, tool, "description");
    const params = fn.get("parameters");
    tool.set("input_schema", params !== null && params.isObject() ? params : jobj().set("type", jstr("object")).set("properties", jobj()));
    if (fn.has("strict")) note(dropped, "tools.function.strict");
    tools.push(tool);
  }
  if (tools.length) out.set("tools", tools);
}

function openAIToolChoiceToAnthropic(v: JsonValue, dropped: string[]): JsonValue | null {
  if (v.isString()) {
    const s = v.asString();
    if (s == "auto") return jobj().set("type", jstr("auto"));
    if (s == "required") return jobj().set("type", jstr("any"));
    if (s == "none") return jobj().set("type", jstr("none"));
  } else if (v.isObject()) {
    const fn = v.getObject("function");
    if (fn !== null) return jobj().set("type", jstr("tool")).set("name", jstr(fn.getString("name")));
  }
  note(dropped, "tool_choice");
  return null;
}

// ---------------------------------------------------------------- responses

export function anthropicStopToFinish(s: string): string {
  if (s == "max_tokens") return "length";
  if (s == "tool_use") return "tool_calls";
  if (s == "refusal") return "content_filter";
  return "stop"; // end_turn, stop_sequence, pause_turn
}

export function finishToAnthropicStop(f: string): string {
  if (f == "length") return "max_tokens";
  if (f == "tool_calls" || f == "function_call") return "tool_use";
  if (f == "content_filter") return "refusal";
  return "end_turn";
}

/** Anthropic usage -> Usage. OpenAI's prompt count includes cached tokens; Anthropic's input_tokens does not. */
export function anthropicUsage(u: JsonValue | null): Usage {
  const r = new Usage();
  if (u === null) return r;
  const input = countAt(u, "input_tokens");
  const read = countAt(u, "cache_read_input_tokens");
  const created = countAt(u, "cache_creation_input_tokens");
  if (input >= 0) r.prompt = input + (read > 0 ? read : 0) + (created > 0 ? created : 0);
  if (read >= 0) r.cached = read;
  r.completion = countAt(u, "output_tokens");
  return r;
}

export function decodeAnthropicResponse(body: JsonValue): ChatResult {
  const r = new ChatResult();
  r.id = body.getString("id");
  r.model = body.getString("model");
  const blocks = body.getArray("content");
  if (blocks !== null) {
    const items = blocks.items();
    for (let i = 0; i < items.length; i++) {
      const b = items[i];
      const t = b.getString("type");
      if (t == "text") r.content += b.getString("text");
      else if (t == "thinking") r.reasoning += b.getString("thinking");
      else if (t == "tool_use") {
        const input = b.get("input");
        r.toolCalls.push(new ToolCall(b.getString("id"), b.getString("name"), input === null ? "{}" : input.toString()));
      }
    }
  }
  r.finish = anthropicStopToFinish(body.getString("stop_reason"));
  r.usage = anthropicUsage(body.getObject("usage"));
  return r;
}

function usageJson(u: Usage): string {
  const cached = u.cached > 0 ? u.cached : 0;
  let s = "{\"input_tokens\":" + (u.promptOr0() - cached).toString() + ",\"output_tokens\":" + u.completionOr0().toString();
  if (u.cached >= 0) s += ",\"cache_read_input_tokens\":" + u.cached.toString();
  return s + "}";
}

function toolInput(args: string): string {
  if (args.length == 0) return "{}";
  const v = parseJson(args);
  return v !== null && v.isObject() ? v.toString() : "{}";
}

export function encodeAnthropicResponse(r: ChatResult, ex: Exchange): string {
  let content = "";
  if (r.reasoning.length) content += "{\"type\":\"thinking\",\"thinking\":" + jsonQuote(r.reasoning) + ",\"signature\":\"\"}";
  if (r.content.length || r.toolCalls.length == 0) content += (content.length ? "," : "") + "{\"type\":\"text\",\"text\":" + jsonQuote(r.content) + "}";
  for (let i = 0; i < r.toolCalls.length; i++) {
    const c = r.toolCalls[i];
    content += (content.length ? "," : "") + "{\"type\":\"tool_use\",\"id\":" + jsonQuote(c.id) + ",\"name\":" + jsonQuote(c.name) + ",\"input\":" + toolInput(c.arguments) + "}";
  }
  return "{\"id\":" + jsonQuote(r.id.length ? r.id : "msg_" + ex.requestId) + ",\"type\":\"message\",\"role\":\"assistant\",\"model\":" +
    jsonQuote(r.model.length ? r.model : ex.model) + ",\"content\":[" + content + "],\"stop_reason\":" +
    jsonQuote(finishToAnthropicStop(r.finish)) + ",\"stop_sequence\":null,\"usage\":" + usageJson(r.usage) + "}";
}

// ---------------------------------------------------------------- streams

export class AnthropicStreamDecoder extends StreamDecoder {
  private toolOfBlock: Map<i32, i32> = new Map<i32, i32>();
  private tools: i32 = 0;
  private finished: bool = false;
  private done: bool = false;

  decode(ev: SseEvent, out: ChatEvent[]): void {
    if (this.done) return;
    const data = parseJson(ev.data);
    if (data === null || !data.isObject()) {
      if (ev.data.length == 0) return; // comment-only or keep-alive event
      out.push(errorEvent(502, "upstream sent a malformed stream event"));
      this.done = true;
      return;
    }
    const type = data.getString("type", ev.event);
    if (type == "message_start") {
      const msg = data.getObject("message");
      const e = ChatEvent.of(EventKind.Start);
      e.id = strAt(msg, "id");
      e.name = strAt(msg, "model");
      e.usage = anthropicUsage(objAt(msg, "usage"));
      out.push(e);
    } else if (type == "content_block_start") {
      const cb = data.getObject("content_block");
      const t = strAt(cb, "type");
      if (t == "tool_use") {
        const e = ChatEvent.of(EventKind.ToolCall);
        e.index = this.tools;
        e.id = strAt(cb, "id");
        e.name = strAt(cb, "name");
        this.toolOfBlock.set(<i32>data.getInt("index"), this.tools++);
        out.push(e);
      } else if (t == "text" && strAt(cb, "text").length) out.push(ChatEvent.of(EventKind.Text, strAt(cb, "text")));
      else if (t == "thinking" && strAt(cb, "thinking").length) out.push(ChatEvent.of(EventKind.Reasoning, strAt(cb, "thinking")));
    } else if (type == "content_block_delta") {
      const d = data.getObject("delta");
      const t = strAt(d, "type");
      if (t == "text_delta") out.push(ChatEvent.of(EventKind.Text, strAt(d, "text")));
      else if (t == "thinking_delta") out.push(ChatEvent.of(EventKind.Reasoning, strAt(d, "thinking")));
      else if (t == "input_json_delta") {
        const block = <i32>data.getInt("index");
        const part = strAt(d, "partial_json");
        if (!this.toolOfBlock.has(block) || part.length == 0) return;
        const e = ChatEvent.of(EventKind.ToolArgs, part);
        e.index = this.toolOfBlock.get(block);
        out.push(e);
      }
    } else if (type == "message_delta") {
      const d = data.getObject("delta");
      const stop = strAt(d, "stop_reason");
      if (stop.length) { out.push(ChatEvent.of(EventKind.Finish, anthropicStopToFinish(stop))); this.finished = true; }
      const u = data.getObject("usage");
      if (u !== null) { const e = ChatEvent.of(EventKind.Usage); e.usage = anthropicUsage(u); out.push(e); }
    } else if (type == "message_stop") {
      out.push(ChatEvent.of(EventKind.Done));
      this.done = true;
    } else if (type == "error") {
      const err = data.getObject("error");
      const kind = strAt(err, "type");
      out.push(errorEvent(anthropicErrorStatus(kind), strAt(err, "message"), kind));
      this.done = true;
    }
  }

  end(out: ChatEvent[]): void {
    if (this.done) return;
    this.done = true;
    out.push(this.finished ? ChatEvent.of(EventKind.Done) : errorEvent(502, "upstream stream ended before message_stop"));
  }
}

export function anthropicErrorStatus(kind: string): i32 {
  if (kind == "invalid_request_error") return 400;
  if (kind == "authentication_error") return 401;
  if (kind == "permission_error") return 403;
  if (kind == "not_found_error") return 404;
  if (kind == "request_too_large") return 413;
  if (kind == "rate_limit_error") return 429;
  if (kind == "overloaded_error") return 529;
  if (kind == "timeout_error") return 504;
  return 500;
}

export function anthropicErrorType(status: i32): string {
  if (status == 400 || status == 422) return "invalid_request_error";
  if (status == 401) return "authentication_error";
  if (status == 403) return "permission_error";
  if (status == 404) return "not_found_error";
  if (status == 413) return "request_too_large";
  if (status == 429) return "rate_limit_error";
  if (status == 503 || status == 529) return "overloaded_error";
  if (status == 504) return "timeout_error";
  return "api_error";
}

export function anthropicErrorBody(status: i32, message: string): string {
  return "{\"type\":\"error\",\"error\":{\"type\":" + jsonQuote(anthropicErrorType(status)) + ",\"message\":" + jsonQuote(message) + "}}";
}

const BLOCK_NONE = 0, BLOCK_TEXT = 1, BLOCK_THINKING = 2, BLOCK_TOOL = 3;

function sse(event: string, data: string): string { return "event: " + event + "\ndata: " + data + "\n\n"; }

export class AnthropicStreamEncoder extends StreamEncoder {
  private started: bool = false;
  private closed: bool = false;
  private block: i32 = -1;
  private blockKind: i32 = BLOCK_NONE;
  private blockOfTool: Map<i32, i32> = new Map<i32, i32>();
  private usage: Usage = new Usage();
  private stop: string = "";
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
      return this.start();
    }
    if (k == EventKind.Usage) { const u = e.usage; if (u !== null) this.usage.merge(u); return ""; }
    if (k == EventKind.Finish) { this.stop = finishToAnthropicStop(e.text); return ""; }
    if (k == EventKind.Error) {
      this.closed = true;
      return sse("error", anthropicErrorBody(e.index, e.text));
    }
    let out = this.start();
    if (k == EventKind.Text || k == EventKind.Reasoning) {
      const kind = k == EventKind.Text ? BLOCK_TEXT : BLOCK_THINKING;
      if (this.blockKind != kind) {
        out += this.closeBlock() + this.openBlock(kind, kind == BLOCK_TEXT
          ? "{\"type\":\"text\",\"text\":\"\"}" : "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}");
      }
      const delta = kind == BLOCK_TEXT ? "{\"type\":\"text_delta\",\"text\":" : "{\"type\":\"thinking_delta\",\"thinking\":";
      return out + this.delta(this.block, delta + jsonQuote(e.text) + "}");
    }
    if (k == EventKind.ToolCall) {
      out += this.closeBlock() + this.openBlock(BLOCK_TOOL, "{\"type\":\"tool_use\",\"id\":" + jsonQuote(e.id) +
        ",\"name\":" + jsonQuote(e.name) + ",\"input\":{}}");
      this.blockOfTool.set(e.index, this.block);
      return out;
    }
    if (k == EventKind.ToolArgs) {
      if (!this.blockOfTool.has(e.index) || e.text.length == 0) return out;
      return out + this.delta(this.blockOfTool.get(e.index), "{\"type\":\"input_json_delta\",\"partial_json\":" + jsonQuote(e.text) + "}");
    }
    // Done
    this.closed = true;
    const cached = this.usage.cached > 0 ? this.usage.cached : 0;
    let usage = "{\"input_tokens\":" + (this.usage.promptOr0() - cached).toString() + ",\"output_tokens\":" + this.usage.completionOr0().toString();
    if (this.usage.cached >= 0) usage += ",\"cache_read_input_tokens\":" + this.usage.cached.toString();
    return out + this.closeBlock() +
      sse("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":" + (this.stop.length ? jsonQuote(this.stop) : "\"end_turn\"") +
        ",\"stop_sequence\":null},\"usage\":" + usage + "}}") +
      sse("message_stop", "{\"type\":\"message_stop\"}");
  }

  private start(): string {
    if (this.started) return "";
    this.started = true;
    const cached = this.usage.cached > 0 ? this.usage.cached : 0;
    return sse("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":" + jsonQuote(this.id.length ? this.id : "msg_" + this.ex.requestId) +
      ",\"type\":\"message\",\"role\":\"assistant\",\"model\":" + jsonQuote(this.model.length ? this.model : this.ex.model) +
      ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":" + (this.usage.promptOr0() - cached).toString() +
      ",\"output_tokens\":0}}}");
  }

  private openBlock(kind: i32, contentBlock: string): string {
    this.block++;
    this.blockKind = kind;
    return sse("content_block_start", "{\"type\":\"content_block_start\",\"index\":" + this.block.toString() + ",\"content_block\":" + contentBlock + "}");
  }

  private closeBlock(): string {
    if (this.blockKind == BLOCK_NONE) return "";
    this.blockKind = BLOCK_NONE;
    return sse("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" + this.block.toString() + "}");
  }

  private delta(index: i32, delta: string): string {
    return sse("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":" + index.toString() + ",\"delta\":" + delta + "}");
  }
}
