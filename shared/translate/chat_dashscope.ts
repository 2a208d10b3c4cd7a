// DashScope (Alibaba Cloud Bailian) native text generation <-> the OpenAI-shaped pivot.
// Shapes follow https://www.alibabacloud.com/help/en/model-studio/use-qwen-by-calling-api (DashScope
// request/response, result_format, incremental_output, tool_calls) and
// https://www.alibabacloud.com/help/en/model-studio/stream (SSE: id/event:result/:HTTP_STATUS/data lines).
import { JsonValue } from "../json";
import { SseEvent } from "../sse";
import {
  ChatEvent, ChatEvents, ChatResult, EventKind, Exchange, StreamDecoder, StreamEncoder, ToolCall, TranslateOptions, note,
} from "./types";
import { JsonText, eventJson } from "./reader";
import { UsageNames, readUsageAt, toolCallDeltas, usageOf, writeUsage } from "./chat_openai";
import { JsonWriter } from "./writer";
import { contentText, copyKey, jarr, jobj, jstr, startsWithAny, strAt, arrAt, firstOf } from "./util";

export const DASHSCOPE_TEXT_PATH = "/api/v1/services/aigc/text-generation/generation";
export const DASHSCOPE_MULTIMODAL_PATH = "/api/v1/services/aigc/multimodal-generation/generation";

// Parameters that mean the same in the pivot and under DashScope's `parameters`.
const SAME_PARAMS: string[] = [
  "temperature", "top_p", "top_k", "seed", "presence_penalty", "repetition_penalty", "n", "enable_thinking",
  "thinking_budget", "enable_search", "tools", "parallel_tool_calls", "response_format", "logprobs", "top_logprobs", "stop",
];

// Vision/omni models answer only on the multimodal endpoint.
const MULTIMODAL_MODELS: string[] = ["qwen-vl", "qwen2-vl", "qwen2.5-vl", "qwen3-vl", "qvq", "qwen-omni", "qwen2.5-omni", "qwen3-omni", "qwen-audio"];

function isMultimodalModel(model: string): bool {
  return startsWithAny(model, MULTIMODAL_MODELS) || model.includes("-vl-");
}

/** Models whose documented defaults are result_format=message and incremental_output=true. */
function streamsIncrementally(model: string): bool { return startsWithAny(model, ["qwq", "qvq"]); }

// ---------------------------------------------------------------- requests

/** DashScope request -> OpenAI chat request (pivot). Records the client's response format in ex. */
export function dashScopeRequestToOpenAI(src: JsonValue, opts: TranslateOptions, ex: Exchange, multimodalPath: bool, dropped: string[]): JsonValue {
  const out = jobj();
  const model = src.getString("model");
  copyKey(src, out, "model");
  ex.multimodal = multimodalPath;
  const messages = jarr();
  const input = src.getObject("input");
  if (input !== null) {
    const history = input.getArray("history"); // legacy prompt/history form
    if (history !== null) {
      const h = history.items();
      for (let i = 0; i < h.length; i++) {
        messages.push(jobj().set("role", jstr("user")).set("content", jstr(h[i].getString("user"))));
        messages.push(jobj().set("role", jstr("assistant")).set("content", jstr(h[i].getString("bot"))));
      }
    }
    const msgs = input.getArray("messages");
    if (msgs !== null) {
      const items = msgs.items();
      for (let i = 0; i < items.length; i++) if (items[i].isObject()) messages.push(dashScopeMessageToOpenAI(items[i], dropped));
    }
    const prompt = input.get("prompt");
    if (prompt !== null && prompt.isString()) messages.push(jobj().set("role", jstr("user")).set("content", prompt));
    const ik = input.keys();
    for (let i = 0; i < ik.length; i++) if (ik[i] != "messages" && ik[i] != "prompt" && ik[i] != "history") note(dropped, "input." + ik[i]);
  }
  out.set("messages", messages);
  const rf = multimodalPath || streamsIncrementally(model) ? "message" : "text";
  ex.textFormat = rf == "text";
  ex.incremental = streamsIncrementally(model);
  const params = src.getObject("parameters");
  if (params !== null) {
    const keys = params.keys();
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = params.get(k);
      if (v === null || v.isNull()) continue;
      if (SAME_PARAMS.includes(k) || k == "max_tokens" || k == "tool_choice") out.set(k, v);
      else if (k == "result_format") ex.textFormat = v.asString() == "text";
      else if (k == "incremental_output") ex.incremental = v.asBool();
      else note(dropped, "parameters." + k);
    }
  }
  const topKeys = src.keys();
  for (let i = 0; i < topKeys.length; i++) {
    const k = topKeys[i];
    if (k != "model" && k != "input" && k != "parameters" && k != "stream") note(dropped, k);
  }
  if (opts.streamHeader || src.getBool("stream")) {
    out.set("stream", JsonValue.newBool(true));
    out.set("stream_options", jobj().set("include_usage", JsonValue.newBool(true))); // DashScope always reports usage
  }
  return out;
}

function dashScopeMessageToOpenAI(m: JsonValue, dropped: string[]): JsonValue {
  const out = jobj();
  const keys = m.keys();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = m.get(k);
    if (v === null) continue;
    if (k == "content") out.set("content", v.isArray() ? dashScopePartsToOpenAI(v, dropped) : v);
    else if (k == "role" || k == "tool_calls" || k == "tool_call_id" || k == "reasoning_content") out.set(k, v);
    else note(dropped, "messages." + k);
  }
  return out;
}

function dashScopePartsToOpenAI(parts: JsonValue, dropped: string[]): JsonValue {
  const out = jarr();
  const items = parts.items();
  for (let i = 0; i < items.length; i++) {
    const p = items[i];
    if (!p.isObject()) continue;
    if (p.has("text")) out.push(jobj().set("type", jstr("text")).set("text", jstr(p.getString("text"))));
    else if (p.has("image")) out.push(jobj().set("type", jstr("image_url")).set("image_url", jobj().set("url", jstr(p.getString("image")))));
    else if (p.getString("video").length) out.push(jobj().set("type", jstr("video_url")).set("video_url", jobj().set("url", jstr(p.getString("video")))));
    else { const k = p.keys(); note(dropped, "messages.content." + (k.length ? k[0] : "?")); }
  }
  return out;
}

/** OpenAI chat request (pivot) -> DashScope native request, written to w; returns the provider path. */
export function openAIRequestToDashScope(src: JsonValue, dropped: string[], w: JsonWriter): string {
  const model = src.getString("model");
  const msgs = src.getArray("messages");
  const multimodal = isMultimodalModel(model) || (msgs !== null && hasMediaParts(msgs));
  w.raw("{\"model\":");
  w.str(model);
  w.raw(",\"input\":{\"messages\":[");
  if (msgs !== null) {
    const items = msgs.items();
    for (let i = 0; i < items.length; i++) if (items[i].isObject()) { w.comma(); openAIMessageToDashScope(items[i], multimodal, dropped, w); }
  }
  w.raw("]},\"parameters\":{\"result_format\":\"message\"");
  // max_tokens and max_completion_tokens both land on max_tokens: first one's place, last one's value.
  let maxTokens: JsonValue | null = null;
  const keys = src.keys();
  for (let i = 0; i < keys.length; i++) {
    const v = src.get(keys[i]);
    if ((keys[i] == "max_tokens" || keys[i] == "max_completion_tokens") && v !== null && !v.isNull()) maxTokens = v;
  }
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = src.get(k);
    if (v === null || v.isNull() || k == "model" || k == "messages" || k == "stream" || k == "stream_options") continue;
    if (SAME_PARAMS.includes(k)) { w.key(k); w.value(v); }
    else if (k == "max_tokens" || k == "max_completion_tokens") {
      if (maxTokens !== null) { w.key("max_tokens"); w.value(maxTokens); maxTokens = null; }
    } else if (k == "tool_choice") {
      if (v.isString() && v.asString() == "required") note(dropped, "tool_choice"); // DashScope has auto/none/named only
      else { w.key(k); w.value(v); }
    } else note(dropped, k);
  }
  if (src.getBool("stream")) w.raw(",\"incremental_output\":true");
  w.raw("}}");
  return multimodal ? DASHSCOPE_MULTIMODAL_PATH : DASHSCOPE_TEXT_PATH;
}

function hasMediaParts(msgs: JsonValue): bool {
  const items = msgs.items();
  for (let i = 0; i < items.length; i++) {
    const c = items[i].get("content");
    if (c === null || !c.isArray()) continue;
    const parts = c.items();
    for (let j = 0; j < parts.length; j++) {
      const t = parts[j].getString("type");
      if (t == "image_url" || t == "video_url") return true;
    }
  }
  return false;
}

function openAIMessageToDashScope(m: JsonValue, multimodal: bool, dropped: string[], w: JsonWriter): void {
  let role = m.getString("role");
  if (role == "developer") role = "system";
  w.raw("{\"role\":");
  w.str(role);
  w.raw(",\"content\":");
  const content = m.get("content");
  if (multimodal) {
    w.byte(0x5B);
    if (content !== null && content.isArray()) {
      const items = content.items();
      for (let i = 0; i < items.length; i++) {
        const p = items[i];
        const t = p.getString("type");
        if (t == "text") { w.comma(); w.raw("{\"text\":"); w.str(p.getString("text")); w.byte(0x7D); }
        else if (t == "image_url" || t == "video_url") {
          const u = p.get(t);
          const url = u === null ? "" : u.isString() ? u.asString() : u.getString("url");
          if (u !== null && u.isObject() && u.has("detail")) note(dropped, "messages.content.image_url.detail");
          w.comma();
          w.raw(t == "image_url" ? "{\"image\":" : "{\"video\":");
          w.str(url);
          w.byte(0x7D);
        } else note(dropped, "messages.content." + t);
      }
    } else {
      const text = contentText(content);
      if (text.length) { w.raw("{\"text\":"); w.str(text); w.byte(0x7D); }
    }
    w.byte(0x5D);
  } else {
    if (content !== null && content.isArray()) {
      const items = content.items();
      for (let i = 0; i < items.length; i++) { const t = items[i].getString("type"); if (t != "text") note(dropped, "messages.content." + t); }
    }
    w.str(contentText(content, "\n"));
  }
  const keys = m.keys();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k == "role" || k == "content") continue;
    const v = m.get(k);
    if (v === null || v.isNull()) continue;
    if (k == "tool_calls" || k == "tool_call_id") { w.key(k); w.value(v); }
    else note(dropped, "messages." + k);
  }
  w.byte(0x7D);
}

// ---------------------------------------------------------------- responses

const DASHSCOPE_USAGE = new UsageNames("input_tokens", "output_tokens", "output_tokens_details");

/** DashScope streams finish_reason as the string "null" while generating. */
function finishOf(v: string): string { return v == "null" ? "" : v; }

export function decodeDashScopeResponse(body: JsonValue): ChatResult {
  const r = new ChatResult();
  r.id = body.getString("request_id");
  const output = body.getObject("output");
  if (output !== null) {
    const choices = output.getArray("choices");
    const choice = firstOf(choices);
    if (choice !== null) {
      const m = choice.getObject("message");
      r.content = m === null ? "" : contentText(m.get("content"));
      r.reasoning = strAt(m, "reasoning_content");
      const calls = arrAt(m, "tool_calls");
      if (calls !== null) {
        const items = calls.items();
        for (let i = 0; i < items.length; i++) {
          const fn = items[i].getObject("function");
          r.toolCalls.push(new ToolCall(items[i].getString("id"), strAt(fn, "name"), strAt(fn, "arguments")));
        }
      }
      r.finish = finishOf(choice.getString("finish_reason"));
    } else {
      r.content = output.getString("text");
      r.finish = finishOf(output.getString("finish_reason"));
    }
  }
  r.usage = usageOf(body.getObject("usage"), DASHSCOPE_USAGE);
  return r;
}

/**
 * The `output` object of a DashScope answer. Tool calls: the whole list so far (tools), or in an
 * incremental stream just the new piece (delta, a ToolCall or ToolArgs event).
 */
function writeOutput(w: JsonWriter, ex: Exchange, content: string, reasoning: string, finish: string, tools: ToolCall[] | null, delta: ChatEvent | null = null): void {
  if (ex.textFormat) {
    w.raw("{\"text\":");
    w.str(content);
    w.raw(",\"finish_reason\":");
  } else {
    w.raw("{\"choices\":[{\"finish_reason\":");
  }
  if (finish.length) w.str(finish);
  else w.raw("\"null\"");
  if (ex.textFormat) { w.byte(0x7D); return; }
  w.raw(",\"message\":{\"role\":\"assistant\",\"content\":");
  if (!ex.multimodal) w.str(content);
  else if (content.length) { w.raw("[{\"text\":"); w.str(content); w.raw("}]"); }
  else w.raw("[]");
  if (reasoning.length) { w.raw(",\"reasoning_content\":"); w.str(reasoning); }
  if (delta !== null) {
    w.raw(",\"tool_calls\":[{\"index\":");
    w.int(delta.index);
    if (delta.kind == EventKind.ToolCall) {
      w.raw(",\"id\":"); w.str(delta.id);
      w.raw(",\"type\":\"function\",\"function\":{\"name\":"); w.str(delta.name);
      w.raw(",\"arguments\":\"\"}}]");
    } else {
      w.raw(",\"function\":{\"arguments\":"); w.str(delta.text);
      w.raw("}}]");
    }
  } else if (tools !== null && tools.length) {
    w.raw(",\"tool_calls\":[");
    for (let i = 0; i < tools.length; i++) {
      const c = tools[i];
      w.comma();
      w.raw("{\"index\":"); w.int(i);
      w.raw(",\"id\":"); w.str(c.id);
      w.raw(",\"type\":\"function\",\"function\":{\"name\":"); w.str(c.name);
      w.raw(",\"arguments\":"); w.str(c.arguments);
      w.raw("}}");
    }
    w.byte(0x5D);
  }
  w.raw("}}]}");
}

export function encodeDashScopeResponse(r: ChatResult, ex: Exchange): string {
  const w = new JsonWriter(256);
  w.raw("{\"output\":");
  writeOutput(w, ex, r.content, r.reasoning, r.finish.length ? r.finish : "stop", r.toolCalls);
  w.raw(",\"usage\":");
  writeUsage(w, r.usage, DASHSCOPE_USAGE);
  w.raw(",\"request_id\":");
  w.str(r.id.length ? r.id : ex.requestId);
  w.byte(0x7D);
  return w.text();
}

// ---------------------------------------------------------------- errors

export function dashScopeErrorStatus(code: string): i32 {
  if (code.startsWith("InvalidApiKey")) return 401;
  if (code.startsWith("AccessDenied") || code.startsWith("Arrearage")) return 403;
  if (code.startsWith("ModelNotFound") || code.startsWith("NotFound")) return 404;
  if (code.startsWith("Throttling")) return 429;
  if (code.startsWith("InternalError") || code.startsWith("SystemError")) return 500;
  if (code.startsWith("ServiceUnavailable")) return 503;
  return 400;
}

export function dashScopeErrorCode(status: i32): string {
  if (status == 401) return "InvalidApiKey";
  if (status == 403) return "AccessDenied";
  if (status == 404) return "ModelNotFound";
  if (status == 429) return "Throttling";
  if (status == 503 || status == 529) return "ServiceUnavailable";
  if (status >= 500) return "InternalError";
  return "InvalidParameter";
}

export function writeDashScopeError(w: JsonWriter, status: i32, message: string, code: string, requestId: string): void {
  w.raw("{\"code\":");
  w.str(code.length ? code : dashScopeErrorCode(status));
  w.raw(",\"message\":");
  w.str(message);
  w.raw(",\"request_id\":");
  w.str(requestId);
  w.byte(0x7D);
}

// ---------------------------------------------------------------- streams

/** `:HTTP_STATUS/429` comment line of a DashScope event, or 0. */
function httpStatusOf(raw: string): i32 {
  const at = raw.indexOf(":HTTP_STATUS/");
  if (at < 0) return 0;
  let n = 0;
  for (let i = at + 13; i < raw.length && i < at + 16; i++) {
    const c = raw.charCodeAt(i);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return n;
}

/** finish_reason of the object at obj, "" while generating ("null") or when absent. */
function finishAt(j: JsonText, obj: i32): string {
  const v = j.get(obj, "finish_reason");
  return j.isString(v) && !j.equals(v, "null") ? j.stringAt(v) : "";
}

/** Decodes a DashScope stream requested with incremental_output=true (every event carries only new text). */
export class DashScopeStreamDecoder extends StreamDecoder {
  private started: bool = false;
  private done: bool = false;
  private knownTools: Map<i32, i32> = new Map<i32, i32>();

  decode(ev: SseEvent, out: ChatEvents): void {
    if (this.done) return;
    if (ev.data.length == 0) return;
    const j = eventJson;
    if (!j.load(ev.data) || !j.isObject(j.root)) {
      out.error(502, "upstream sent a malformed stream event");
      this.done = true;
      return;
    }
    const data = j.root;
    const status = httpStatusOf(ev.raw);
    const code = j.getString(data, "code");
    if (ev.event == "error" || (status != 0 && status != 200) || (code.length && !j.has(data, "output"))) {
      out.error(status > 0 && status != 200 ? status : dashScopeErrorStatus(code), j.getString(data, "message"), code);
      this.done = true;
      return;
    }
    const usage = j.getObject(data, "usage");
    if (!this.started) {
      this.started = true;
      const e = out.add(EventKind.Start);
      e.id = j.getString(data, "request_id");
      readUsageAt(j, usage, DASHSCOPE_USAGE, e.withUsage()); // Anthropic clients want input_tokens in message_start
    }
    const output = j.getObject(data, "output");
    let finish = "";
    if (output >= 0) {
      const choice = j.first(j.getArray(output, "choices"));
      if (choice >= 0) {
        const m = j.getObject(choice, "message");
        const reasoning = j.get(m, "reasoning_content");
        if (j.hasText(reasoning)) out.addString(EventKind.Reasoning, j, reasoning);
        const content = j.get(m, "content");
        if (j.isString(content)) { if (j.hasText(content)) out.addString(EventKind.Text, j, content); }
        else {
          const parts = j.contentText(content); // multimodal: a list of parts
          if (parts.length) out.add(EventKind.Text, parts);
        }
        const calls = j.getArray(m, "tool_calls");
        if (calls >= 0) toolCallDeltas(j, calls, this.knownTools, out);
        finish = finishAt(j, choice);
      } else {
        const text = j.get(output, "text");
        if (j.hasText(text)) out.addString(EventKind.Text, j, text);
        finish = finishAt(j, output);
      }
    }
    if (usage >= 0) readUsageAt(j, usage, DASHSCOPE_USAGE, out.add(EventKind.Usage).withUsage());
    if (finish.length) {
      // DashScope ends the body after this event; nothing follows to wait for.
      out.add(EventKind.Finish, finish);
      out.add(EventKind.Done);
      this.done = true;
    }
  }

  end(out: ChatEvents): void {
    if (this.done) return;
    this.done = true;
    out.error(502, "upstream stream ended before a finish_reason");
  }
}

export class DashScopeStreamEncoder extends StreamEncoder {
  private seq: i32 = 0;
  private content: string = "";
  private reasoning: string = "";
  private tools: ToolCall[] = [];
  private finish: string = "";

  constructor(private ex: Exchange) { super(); }

  encode(e: ChatEvent, w: JsonWriter): void {
    if (this.closed) return;
    const k = e.kind;
    const inc = this.ex.incremental;
    if (k == EventKind.Start || k == EventKind.Usage) {
      this.remember(e);
    } else if (k == EventKind.Finish) {
      this.finish = e.text;
    } else if (k == EventKind.Text) {
      this.content += e.text;
      this.event(w, inc ? e.text : this.content, inc ? "" : this.reasoning, "", inc ? null : this.tools);
    } else if (k == EventKind.Reasoning) {
      this.reasoning += e.text;
      this.event(w, inc ? "" : this.content, inc ? e.text : this.reasoning, "", inc ? null : this.tools);
    } else if (k == EventKind.ToolCall || k == EventKind.ToolArgs) {
      while (this.tools.length <= e.index && this.tools.length < 128) this.tools.push(new ToolCall("", "", ""));
      if (e.index < 0 || e.index >= this.tools.length) return;
      const t = this.tools[e.index];
      if (k == EventKind.ToolCall) { t.id = e.id; t.name = e.name; } else t.arguments += e.text;
      if (inc) this.event(w, "", "", "", null, e);
      else this.event(w, this.content, this.reasoning, "", this.tools);
    } else if (k == EventKind.Error) {
      this.closed = true;
      const status = e.index > 0 ? e.index : 500;
      w.raw("id:"); w.int(++this.seq);
      w.raw("\nevent:error\n:HTTP_STATUS/"); w.int(status);
      w.raw("\ndata:");
      writeDashScopeError(w, status, e.text, e.id, this.id.length ? this.id : this.ex.requestId);
      w.raw("\n\n");
    } else { // Done
      this.closed = true;
      this.event(w, inc ? "" : this.content, inc ? "" : this.reasoning, this.finish.length ? this.finish : "stop", inc ? null : this.tools);
    }
  }

  private event(w: JsonWriter, content: string, reasoning: string, finish: string, tools: ToolCall[] | null, delta: ChatEvent | null = null): void {
    w.raw("id:");
    w.int(++this.seq);
    w.raw("\nevent:result\n:HTTP_STATUS/200\ndata:{\"output\":");
    writeOutput(w, this.ex, content, reasoning, finish, tools, delta);
    if (this.usage.totalTokens() >= 0) { w.raw(",\"usage\":"); writeUsage(w, this.usage, DASHSCOPE_USAGE); }
    w.raw(",\"request_id\":");
    w.str(this.id.length ? this.id : this.ex.requestId);
    w.raw("}\n\n");
  }
}
