// Anthropic Messages API <-> the OpenAI-shaped pivot.
// Shapes follow https://docs.anthropic.com/en/api/messages (request/response) and
// https://docs.anthropic.com/en/docs/build-with-claude/streaming (events).
import { JsonValue, parseJson } from "../json";
import { SseEvent } from "../sse";
import {
  ChatEvent, ChatEvents, ChatResult, EventKind, Exchange, StreamDecoder, StreamEncoder, ToolCall, TranslateOptions, note,
} from "./types";
import { JsonText, eventJson } from "./reader";
import { Usage } from "../usage";
import { JsonWriter, jsonText } from "./writer";
import { contentText, copyKey, countAt, jarr, jobj, jstr, splitDataUrl, strAt, stringList } from "./util";

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
          jobj().set("name", jstr(b.getString("name"))).set("arguments", jstr(input === null ? "{}" : jsonText(input)))));
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

// Parts of an Anthropic request written while its messages are read, placed after the other members.
const systemBlocks = new JsonWriter();
const messageList = new JsonWriter();

/** OpenAI chat request (pivot) -> Anthropic request body, written to w. */
export function openAIRequestToAnthropic(src: JsonValue, opts: TranslateOptions, dropped: string[], defaulted: string[], w: JsonWriter): void {
  systemBlocks.reset();
  messageList.reset();
  let maxTokens: JsonValue | null = null;
  let toolChoice: JsonValue | null = null;
  let noParallel = false;
  w.byte(0x7B);
  const keys = src.keys();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = src.get(k);
    if (v === null || v.isNull()) continue;
    if (k == "model" || k == "temperature" || k == "top_p" || k == "top_k" || k == "stream") { w.key(k); w.value(v); }
    else if (k == "messages") openAIMessagesToAnthropic(v, systemBlocks, messageList, dropped);
    else if (k == "max_tokens" || k == "max_completion_tokens") maxTokens = v;
    else if (k == "stop") {
      const s = stringList(v);
      if (s.length) {
        w.key("stop_sequences");
        w.byte(0x5B);
        for (let j = 0; j < s.length; j++) { w.comma(); w.str(s[j]); }
        w.byte(0x5D);
      }
    }
    else if (k == "tools") openAIToolsToAnthropic(v, w, dropped);
    else if (k == "tool_choice") toolChoice = openAIToolChoiceToAnthropic(v, dropped);
    else if (k == "parallel_tool_calls") noParallel = v.isBool() && !v.asBool();
    else if (k == "user") { w.key("metadata"); w.raw("{\"user_id\":"); w.value(v); w.byte(0x7D); }
    else if (k == "enable_thinking") {
      if (!v.asBool()) continue;
      const budget = src.get("thinking_budget");
      if (budget !== null && budget.isNumber()) { w.key("thinking"); w.raw("{\"type\":\"enabled\",\"budget_tokens\":"); w.value(budget); w.byte(0x7D); }
      else note(dropped, "enable_thinking"); // Anthropic needs a budget; inventing one would change the request
    } else if (k == "thinking_budget") continue;
    else if (k == "stream_options") continue; // Anthropic always reports usage
    else if (k == "n") { if (v.asInt(1) != 1) note(dropped, "n"); }
    else if (k == "response_format") { if (v.getString("type") != "text") note(dropped, "response_format"); }
    else note(dropped, k);
  }
  if (systemBlocks.length) { w.key("system"); w.byte(0x5B); w.append(systemBlocks); w.byte(0x5D); }
  w.key("messages");
  w.byte(0x5B);
  w.append(messageList);
  if (messageList.length) w.raw("]}"); // the last message stays open for merging
  w.byte(0x5D);
  w.key("max_tokens");
  if (maxTokens === null) {
    w.int(opts.defaultMaxTokens);
    note(defaulted, "max_tokens=" + opts.defaultMaxTokens.toString());
  } else w.value(maxTokens);
  if (noParallel) {
    if (toolChoice === null) toolChoice = jobj().set("type", jstr("auto"));
    if (toolChoice.getString("type") != "none") toolChoice.set("disable_parallel_tool_use", JsonValue.newBool(true));
  }
  if (toolChoice !== null) { w.key("tool_choice"); w.value(toolChoice); }
  w.byte(0x7D);
}

/**
 * Messages in Anthropic's shape. Anthropic wants strictly alternating roles, so consecutive messages
 * of one role merge: the last message written stays open (`{"role":…,"content":[…`) for more blocks.
 */
function openAIMessagesToAnthropic(src: JsonValue, system: JsonWriter, out: JsonWriter, dropped: string[]): void {
  let openRole = "";
  const msgs = src.items();
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (!m.isObject()) continue;
    const role = m.getString("role");
    if (m.has("name")) note(dropped, "messages.name");
    const content = m.get("content");
    if (role == "system" || role == "developer") {
      system.comma();
      textBlock(system, contentText(content, "\n"));
      continue;
    }
    const isTool = role == "tool";
    if (!isTool && role != "user" && role != "assistant") { note(dropped, "messages.role." + role); continue; }
    const as = isTool ? "user" : role;
    if (out.length == 0 || openRole != as) {
      if (out.length) out.raw("]}");
      out.comma();
      out.raw("{\"role\":");
      out.str(as);
      out.raw(",\"content\":[");
      openRole = as;
    }
    if (isTool) {
      out.comma();
      out.raw("{\"type\":\"tool_result\",\"tool_use_id\":");
      out.str(m.getString("tool_call_id"));
      out.raw(",\"content\":");
      out.str(contentText(content, "\n"));
      out.byte(0x7D);
      continue;
    }
    if (content !== null && content.isArray()) openAIPartsToAnthropic(content, out, dropped);
    else {
      const text = contentText(content);
      if (text.length) { out.comma(); textBlock(out, text); }
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
          out.comma();
          out.raw("{\"type\":\"tool_use\",\"id\":");
          out.str(items[j].getString("id"));
          out.raw(",\"name\":");
          out.str(strAt(fn, "name"));
          out.raw(",\"input\":");
          out.value(input);
          out.byte(0x7D);
        }
      }
    }
  }
}

function textBlock(w: JsonWriter, text: string): void {
  w.raw("{\"type\":\"text\",\"text\":");
  w.str(text);
  w.byte(0x7D);
}

function openAIPartsToAnthropic(parts: JsonValue, blocks: JsonWriter, dropped: string[]): void {
  const items = parts.items();
  for (let i = 0; i < items.length; i++) {
    const p = items[i];
    if (p.isString()) { blocks.comma(); textBlock(blocks, p.asString()); continue; }
    const t = p.getString("type");
    if (t == "text") { blocks.comma(); textBlock(blocks, p.getString("text")); }
    else if (t == "image_url") {
      const iu = p.get("image_url");
      const url = iu === null ? "" : iu.isString() ? iu.asString() : iu.getString("url");
      const data = splitDataUrl(url);
      if (iu !== null && iu.isObject() && iu.has("detail")) note(dropped, "messages.content.image_url.detail");
      blocks.comma();
      blocks.raw("{\"type\":\"image\",\"source\":");
      if (data !== null && data.length == 2) {
        blocks.raw("{\"type\":\"base64\",\"media_type\":"); blocks.str(data[0]);
        blocks.raw(",\"data\":"); blocks.str(data[1]);
      } else {
        blocks.raw("{\"type\":\"url\",\"url\":"); blocks.str(url);
      }
      blocks.raw("}}");
    } else note(dropped, "messages.content." + t);
  }
}

function openAIToolsToAnthropic(src: JsonValue, w: JsonWriter, dropped: string[]): void {
  const mark = w.length;
  w.key("tools");
  w.byte(0x5B);
  let count = 0;
  const items = src.items();
  for (let i = 0; i < items.length; i++) {
    const t = items[i];
    const fn = t.getObject("function");
    if (t.getString("type") != "function" || fn === null) { note(dropped, "tools." + t.getString("type")); continue; }
    w.comma();
    w.raw("{\"name\":");
    w.str(fn.getString("name"));
    const description = fn.get("description");
    if (description !== null && !description.isNull()) { w.raw(",\"description\":"); w.value(description); }
    w.raw(",\"input_schema\":");
    const params = fn.get("parameters");
    if (params !== null && params.isObject()) w.value(params);
    else w.raw("{\"type\":\"object\",\"properties\":{}}");
    w.byte(0x7D);
    if (fn.has("strict")) note(dropped, "tools.function.strict");
    count++;
  }
  if (count) w.byte(0x5D);
  else w.truncate(mark); // no tools member at all
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

/**
 * Anthropic usage -> Usage. OpenAI's prompt count includes cached tokens; Anthropic's input_tokens does not.
 * `input` gets the sum right here, each event on its own, and uncachedInput stays -1: merging stream
 * events is then plain "later wins", and an event's input_tokens always comes with its own cache counts.
 */
export function anthropicUsage(u: JsonValue | null): Usage {
  const r = new Usage();
  if (u === null) return r;
  const input = countAt(u, "input_tokens");
  const read = countAt(u, "cache_read_input_tokens");
  const created = countAt(u, "cache_creation_input_tokens");
  if (input >= 0) r.input = input + (read > 0 ? read : 0) + (created > 0 ? created : 0);
  if (read >= 0) r.cacheRead = read;
  r.output = countAt(u, "output_tokens");
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
        r.toolCalls.push(new ToolCall(b.getString("id"), b.getString("name"), input === null ? "{}" : jsonText(input)));
      }
    }
  }
  r.finish = anthropicStopToFinish(body.getString("stop_reason"));
  r.usage = anthropicUsage(body.getObject("usage"));
  return r;
}

function writeAnthropicUsage(w: JsonWriter, u: Usage): void {
  const cached = u.cacheRead > 0 ? u.cacheRead : 0;
  w.raw("{\"input_tokens\":"); w.int(u.inputOr0() - cached);
  w.raw(",\"output_tokens\":"); w.int(u.outputOr0());
  if (u.cacheRead >= 0) { w.raw(",\"cache_read_input_tokens\":"); w.int(u.cacheRead); }
  w.byte(0x7D);
}

export function encodeAnthropicResponse(r: ChatResult, ex: Exchange): string {
  const w = new JsonWriter(256);
  w.raw("{\"id\":");
  w.str(r.id.length ? r.id : "msg_" + ex.requestId);
  w.raw(",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
  w.str(r.model.length ? r.model : ex.model);
  w.raw(",\"content\":[");
  if (r.reasoning.length) { w.raw("{\"type\":\"thinking\",\"thinking\":"); w.str(r.reasoning); w.raw(",\"signature\":\"\"}"); }
  if (r.content.length || r.toolCalls.length == 0) { w.comma(); textBlock(w, r.content); }
  for (let i = 0; i < r.toolCalls.length; i++) {
    const c = r.toolCalls[i];
    w.comma();
    w.raw("{\"type\":\"tool_use\",\"id\":"); w.str(c.id);
    w.raw(",\"name\":"); w.str(c.name);
    w.raw(",\"input\":");
    const input = c.arguments.length ? parseJson(c.arguments) : null;
    if (input !== null && input.isObject()) w.value(input);
    else w.raw("{}");
    w.byte(0x7D);
  }
  w.raw("],\"stop_reason\":");
  w.str(finishToAnthropicStop(r.finish));
  w.raw(",\"stop_sequence\":null,\"usage\":");
  writeAnthropicUsage(w, r.usage);
  w.byte(0x7D);
  return w.text();
}

// ---------------------------------------------------------------- streams

/** Usage of a streamed Anthropic event (the same fields and sums as anthropicUsage). */
function readAnthropicUsage(j: JsonText, u: i32, r: Usage): void {
  if (u < 0) return;
  const input = j.count(u, "input_tokens");
  const read = j.count(u, "cache_read_input_tokens");
  const created = j.count(u, "cache_creation_input_tokens");
  if (input >= 0) r.input = input + (read > 0 ? read : 0) + (created > 0 ? created : 0);
  if (read >= 0) r.cacheRead = read;
  r.output = j.count(u, "output_tokens");
}

const enum Event { Other, MessageStart, BlockStart, BlockDelta, MessageDelta, MessageStop, Error }
const DELTA_TYPES: string[] = ["text_delta", "thinking_delta", "input_json_delta"];
const EVENT_NAMES: string[] = ["", "message_start", "content_block_start", "content_block_delta", "message_delta", "message_stop", "error"];

/** The event's type: its data's "type" string, else the SSE event name. */
function eventOf(j: JsonText, data: i32, sseEvent: string): Event {
  const t = j.get(data, "type");
  if (j.isString(t)) return <Event>max(0, j.oneOf(t, EVENT_NAMES));
  for (let i = 1; i < EVENT_NAMES.length; i++) if (sseEvent == unchecked(EVENT_NAMES[i])) return <Event>i;
  return Event.Other;
}

export class AnthropicStreamDecoder extends StreamDecoder {
  private toolOfBlock: Map<i32, i32> = new Map<i32, i32>();
  private tools: i32 = 0;
  private finished: bool = false;
  private done: bool = false;

  decode(ev: SseEvent, out: ChatEvents): void {
    if (this.done) return;
    const j = eventJson;
    if (!j.load(ev.data) || !j.isObject(j.root)) {
      if (ev.data.length == 0) return; // comment-only or keep-alive event
      out.error(502, "upstream sent a malformed stream event");
      this.done = true;
      return;
    }
    const data = j.root;
    const type = eventOf(j, data, ev.event);
    if (type == Event.MessageStart) {
      const msg = j.getObject(data, "message");
      const e = out.add(EventKind.Start);
      e.id = j.getString(msg, "id");
      e.name = j.getString(msg, "model");
      readAnthropicUsage(j, j.getObject(msg, "usage"), e.withUsage());
    } else if (type == Event.BlockStart) {
      const cb = j.getObject(data, "content_block");
      if (j.stringIs(cb, "type", "tool_use")) {
        const e = out.add(EventKind.ToolCall);
        e.index = this.tools;
        e.id = j.getString(cb, "id");
        e.name = j.getString(cb, "name");
        this.toolOfBlock.set(<i32>j.getInt(data, "index"), this.tools++);
      } else if (j.stringIs(cb, "type", "text")) {
        const text = j.get(cb, "text");
        if (j.hasText(text)) out.addString(EventKind.Text, j, text);
      } else if (j.stringIs(cb, "type", "thinking")) {
        const thinking = j.get(cb, "thinking");
        if (j.hasText(thinking)) out.addString(EventKind.Reasoning, j, thinking);
      }
    } else if (type == Event.BlockDelta) {
      const d = j.getObject(data, "delta");
      const kind = j.oneOf(j.get(d, "type"), DELTA_TYPES);
      if (kind == 0 || kind == 1) {
        const text = j.get(d, kind == 0 ? "text" : "thinking"); // may be empty, still a delta
        if (j.isString(text)) out.addString(kind == 0 ? EventKind.Text : EventKind.Reasoning, j, text);
        else out.add(kind == 0 ? EventKind.Text : EventKind.Reasoning);
      } else if (kind == 2) {
        const block = <i32>j.getInt(data, "index");
        const part = j.get(d, "partial_json");
        if (!this.toolOfBlock.has(block) || !j.hasText(part)) return;
        out.addString(EventKind.ToolArgs, j, part).index = this.toolOfBlock.get(block);
      }
    } else if (type == Event.MessageDelta) {
      const stop = j.getString(j.getObject(data, "delta"), "stop_reason");
      if (stop.length) { out.add(EventKind.Finish, anthropicStopToFinish(stop)); this.finished = true; }
      const u = j.getObject(data, "usage");
      if (u >= 0) readAnthropicUsage(j, u, out.add(EventKind.Usage).withUsage());
    } else if (type == Event.MessageStop) {
      out.add(EventKind.Done);
      this.done = true;
    } else if (type == Event.Error) {
      const err = j.getObject(data, "error");
      const kind = j.getString(err, "type");
      out.error(anthropicErrorStatus(kind), j.getString(err, "message"), kind);
      this.done = true;
    }
  }

  end(out: ChatEvents): void {
    if (this.done) return;
    this.done = true;
    if (this.finished) out.add(EventKind.Done);
    else out.error(502, "upstream stream ended before message_stop");
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

export function writeAnthropicError(w: JsonWriter, status: i32, message: string): void {
  w.raw("{\"type\":\"error\",\"error\":{\"type\":");
  w.str(anthropicErrorType(status));
  w.raw(",\"message\":");
  w.str(message);
  w.raw("}}");
}

const BLOCK_NONE = 0, BLOCK_TEXT = 1, BLOCK_THINKING = 2, BLOCK_TOOL = 3;

/** Starts an SSE event up to its data; the caller writes the data and ends it with "\n\n". */
function sse(w: JsonWriter, event: string): void {
  w.raw("event: ");
  w.raw(event);
  w.raw("\ndata: ");
}

export class AnthropicStreamEncoder extends StreamEncoder {
  private started: bool = false;
  private block: i32 = -1;
  private blockKind: i32 = BLOCK_NONE;
  private blockOfTool: Map<i32, i32> = new Map<i32, i32>();
  private stop: string = "";

  constructor(private ex: Exchange) { super(); }

  encode(e: ChatEvent, w: JsonWriter): void {
    if (this.closed) return;
    const k = e.kind;
    if (k == EventKind.Start) {
      this.remember(e);
      this.start(w);
      return;
    }
    if (k == EventKind.Usage) { this.remember(e); return; }
    if (k == EventKind.Finish) { this.stop = finishToAnthropicStop(e.text); return; }
    if (k == EventKind.Error) {
      this.closed = true;
      sse(w, "error");
      writeAnthropicError(w, e.index, e.text);
      w.raw("\n\n");
      return;
    }
    this.start(w);
    if (k == EventKind.Text || k == EventKind.Reasoning) {
      const kind = k == EventKind.Text ? BLOCK_TEXT : BLOCK_THINKING;
      if (this.blockKind != kind) {
        this.closeBlock(w);
        this.openBlock(w, kind);
        w.raw(kind == BLOCK_TEXT ? "{\"type\":\"text\",\"text\":\"\"}}\n\n" : "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n");
      }
      this.delta(w, this.block);
      w.raw(kind == BLOCK_TEXT ? "{\"type\":\"text_delta\",\"text\":" : "{\"type\":\"thinking_delta\",\"thinking\":");
      e.writeText(w);
      w.raw("}}\n\n");
    } else if (k == EventKind.ToolCall) {
      this.closeBlock(w);
      this.openBlock(w, BLOCK_TOOL);
      w.raw("{\"type\":\"tool_use\",\"id\":");
      w.str(e.id);
      w.raw(",\"name\":");
      w.str(e.name);
      w.raw(",\"input\":{}}}\n\n");
      this.blockOfTool.set(e.index, this.block);
    } else if (k == EventKind.ToolArgs) {
      if (!this.blockOfTool.has(e.index) || e.text.length == 0) return;
      this.delta(w, this.blockOfTool.get(e.index));
      w.raw("{\"type\":\"input_json_delta\",\"partial_json\":");
      e.writeText(w);
      w.raw("}}\n\n");
    } else { // Done
      this.closed = true;
      this.closeBlock(w);
      sse(w, "message_delta");
      w.raw("{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
      if (this.stop.length) w.str(this.stop);
      else w.raw("\"end_turn\"");
      w.raw(",\"stop_sequence\":null},\"usage\":");
      writeAnthropicUsage(w, this.usage);
      w.raw("}\n\n");
      sse(w, "message_stop");
      w.raw("{\"type\":\"message_stop\"}\n\n");
    }
  }

  private start(w: JsonWriter): void {
    if (this.started) return;
    this.started = true;
    const cached = this.usage.cacheRead > 0 ? this.usage.cacheRead : 0;
    sse(w, "message_start");
    w.raw("{\"type\":\"message_start\",\"message\":{\"id\":");
    w.str(this.id.length ? this.id : "msg_" + this.ex.requestId);
    w.raw(",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    w.str(this.model.length ? this.model : this.ex.model);
    w.raw(",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":");
    w.int(this.usage.inputOr0() - cached);
    w.raw(",\"output_tokens\":0}}}\n\n");
  }

  /** Starts a content_block_start event up to its content block. */
  private openBlock(w: JsonWriter, kind: i32): void {
    this.block++;
    this.blockKind = kind;
    sse(w, "content_block_start");
    w.raw("{\"type\":\"content_block_start\",\"index\":");
    w.int(this.block);
    w.raw(",\"content_block\":");
  }

  private closeBlock(w: JsonWriter): void {
    if (this.blockKind == BLOCK_NONE) return;
    this.blockKind = BLOCK_NONE;
    sse(w, "content_block_stop");
    w.raw("{\"type\":\"content_block_stop\",\"index\":");
    w.int(this.block);
    w.raw("}\n\n");
  }

  /** Starts a content_block_delta event up to its delta. */
  private delta(w: JsonWriter, index: i32): void {
    sse(w, "content_block_delta");
    w.raw("{\"type\":\"content_block_delta\",\"index\":");
    w.int(index);
    w.raw(",\"delta\":");
  }
}
