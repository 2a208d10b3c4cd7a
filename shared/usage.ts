// Token usage as providers report it, read from whole response bodies and from stream
// events of every format the gateway relays: OpenAI (chat, completions, embeddings,
// Responses), Anthropic, DashScope native, Gemini and the Dify app API. Nothing here
// traps: wrong types, negative or absurd numbers and non-JSON data are simply not usage.
import { JsonValue, parseJson } from "./json";
import { TokenEstimator } from "./tokens";

// Larger reported counts are nonsense; clamping keeps any sum of them far from overflow.
const MAX_TOKENS: i64 = 1 << 40;

/**
 * Token counts of one response; -1 where the provider reported nothing. Filled by
 * usageFromJson / StreamUsageTracker here and by the protocol translators (shared/translate),
 * which read and write the same counts in each protocol's own fields.
 */
export class Usage {
  /** Prompt tokens, cached ones included (for Anthropic: its input_tokens plus cache reads and writes). */
  input: i64 = -1;
  /** Generated tokens, reasoning ("thoughts") included. */
  output: i64 = -1;
  /** The provider's own total; see totalTokens(). */
  total: i64 = -1;
  /** The part of `input` read from the provider's prompt cache. */
  cacheRead: i64 = -1;
  /** The part of `input` written to the prompt cache (Anthropic). */
  cacheWrite: i64 = -1;
  /** Generated images (DashScope image generation). */
  images: i64 = -1;
  /**
   * Anthropic's input_tokens, which leaves out cache reads and writes; -1 for other formats.
   * The translators never set it: they add the cache counts into `input` per event themselves,
   * so for them merge() is plain field-by-field "later wins".
   */
  uncachedInput: i64 = -1;
  /** The part of `output` spent on reasoning (OpenAI and DashScope report it); only the translators read it. */
  reasoning: i64 = -1;

  found(): bool {
    return this.input >= 0 || this.output >= 0 || this.total >= 0 || this.cacheRead >= 0 ||
      this.cacheWrite >= 0 || this.images >= 0;
  }

  /** The reported total, else input + output as far as known; -1 if no token count is known. */
  totalTokens(): i64 {
    if (this.total >= 0) return this.total;
    if (this.input < 0 && this.output < 0) return -1;
    return this.inputOr0() + this.outputOr0();
  }

  // Protocols whose usage block has required fields get 0 for what the provider left out.
  inputOr0(): i64 { return max<i64>(this.input, 0); }
  outputOr0(): i64 { return max<i64>(this.output, 0); }

  /** Forgets every count (stream events reuse their Usage). */
  reset(): void {
    this.input = this.output = this.total = this.cacheRead = this.cacheWrite = this.images = -1;
    this.uncachedInput = this.reasoning = -1;
  }

  /** Takes every field `other` reports (later values win, field by field: streams repeat or complete earlier counts). */
  merge(other: Usage): void {
    if (other.uncachedInput >= 0) this.uncachedInput = other.uncachedInput;
    else if (other.input >= 0) { this.input = other.input; this.uncachedInput = -1; }
    if (other.output >= 0) this.output = other.output;
    if (other.total >= 0) this.total = other.total;
    if (other.cacheRead >= 0) this.cacheRead = other.cacheRead;
    if (other.cacheWrite >= 0) this.cacheWrite = other.cacheWrite;
    if (other.images >= 0) this.images = other.images;
    if (other.reasoning >= 0) this.reasoning = other.reasoning;
    // Anthropic reports the three input parts in separate fields, possibly in separate events.
    if (this.uncachedInput >= 0) {
      this.input = this.uncachedInput + max<i64>(this.cacheRead, 0) + max<i64>(this.cacheWrite, 0);
    }
  }

}

/** The usage reported in a whole response body or in one stream event's data, of any known format. */
export function usageFromJson(body: JsonValue): Usage {
  const usage = new Usage();
  readUsage(body, usage);
  return usage;
}

function readUsage(body: JsonValue, into: Usage): void {
  if (body.isArray()) { // Gemini's streamGenerateContent without SSE: an array of chunks
    for (let i = 0; i < body.length; i++) {
      const chunk = body.at(i);
      if (chunk && chunk.isObject()) readUsage(chunk, into);
    }
    return;
  }
  if (!body.isObject()) return;
  const type = body.getString("type");
  // OpenAI, Anthropic message / message_delta, DashScope native.
  const usage = body.getObject("usage");
  if (usage) readUsageObject(usage, type == "message" || type == "message_delta", into);
  // Anthropic message_start wraps the message.
  const message = body.getObject("message");
  if (message) {
    const u = message.getObject("usage");
    if (u) readUsageObject(u, true, into);
  }
  // OpenAI Responses stream: response.completed (or .incomplete/.failed) wraps the response.
  const response = body.getObject("response");
  if (response) {
    const u = response.getObject("usage");
    if (u) readUsageObject(u, false, into);
  }
  const gemini = body.getObject("usageMetadata");
  if (gemini) readGeminiUsage(gemini, into);
  // Dify: blocking chat/completion responses and message_end events.
  const metadata = body.getObject("metadata");
  if (metadata) {
    const u = metadata.getObject("usage");
    if (u) readUsageObject(u, false, into);
  }
  // Dify workflows: workflow_finished events and blocking workflow responses.
  if (body.has("workflow_run_id")) {
    const data = body.getObject("data");
    if (data) {
      const part = new Usage();
      part.total = count(data, "total_tokens");
      into.merge(part);
    }
  }
}

// One `usage` object. OpenAI, Responses, DashScope and Dify count cached tokens inside the
// prompt; Anthropic's input_tokens leaves them out, which its cache fields also betray.
function readUsageObject(u: JsonValue, anthropic: bool, into: Usage): void {
  const part = new Usage();
  const anthropicInput = anthropic || u.has("cache_read_input_tokens") || u.has("cache_creation_input_tokens");
  const input = first(count(u, "prompt_tokens"), count(u, "input_tokens"));
  if (anthropicInput) part.uncachedInput = input; else part.input = input;
  part.output = first(count(u, "completion_tokens"), count(u, "output_tokens"));
  part.total = count(u, "total_tokens");
  part.cacheRead = first(count(u, "cache_read_input_tokens"),
    first(countIn(u, "prompt_tokens_details", "cached_tokens"), countIn(u, "input_tokens_details", "cached_tokens")));
  part.cacheWrite = count(u, "cache_creation_input_tokens");
  part.images = count(u, "image_count");
  into.merge(part);
}

// Gemini's usageMetadata: thoughts are generated tokens too, tool-use prompts are input.
function readGeminiUsage(u: JsonValue, into: Usage): void {
  const part = new Usage();
  part.input = sum(count(u, "promptTokenCount"), count(u, "toolUsePromptTokenCount"));
  part.output = sum(count(u, "candidatesTokenCount"), count(u, "thoughtsTokenCount"));
  part.total = count(u, "totalTokenCount");
  part.cacheRead = count(u, "cachedContentTokenCount");
  into.merge(part);
}

// A non-negative number field as a token count (fractions dropped), else -1.
function count(o: JsonValue, key: string): i64 {
  const v = o.get(key);
  if (!v || !v.isNumber()) return -1;
  const n = v.asNumber();
  if (!(n >= 0)) return -1; // negative or NaN
  return n >= <f64>MAX_TOKENS ? MAX_TOKENS : <i64>n;
}

function countIn(o: JsonValue, object: string, key: string): i64 {
  const inner = o.getObject(object);
  return inner ? count(inner, key) : -1;
}

function first(a: i64, b: i64): i64 { return a >= 0 ? a : b; }
function sum(a: i64, b: i64): i64 { return a < 0 ? b : b < 0 ? a : a + b; }

/**
 * Follows a response stream event by event: the usage providers report, and an estimate of
 * the generated text for streams that end without usage.
 */
export class StreamUsageTracker {
  private reported: Usage = new Usage();
  private text: TokenEstimator = new TokenEstimator();
  // DashScope native streams repeat the whole text so far unless incremental_output is set.
  private dashScopeText: RepeatedText = new RepeatedText();
  private dashScopeReasoning: RepeatedText = new RepeatedText();

  /** One SSE event: its `event:` name ("" if none) and its data. Non-JSON data ([DONE], pings) is ignored. */
  onEvent(eventName: string, data: string): void {
    if (!looksLikeJson(data)) return;
    const body = parseJson(data);
    if (!body) return;
    readUsage(body, this.reported);
    if (body.isObject()) this.readText(eventName, body);
  }

  /** What providers reported so far. */
  usage(): Usage { return this.reported; }

  /** Estimated tokens of the generated text streamed so far (answer, reasoning and tool-call arguments). */
  outputText(): i32 { return this.text.tokens(); }

  private readText(eventName: string, body: JsonValue): void {
    const type = body.has("type") ? body.getString("type") : body.has("event") ? body.getString("event") : eventName;
    // OpenAI chat and completions chunks (and OpenAI-compatible servers).
    const choices = body.getArray("choices");
    if (choices) {
      for (let i = 0; i < choices.length; i++) {
        const choice = choices.at(i);
        if (!choice || !choice.isObject()) continue;
        this.addString(choice, "text");
        const delta = choice.getObject("delta");
        if (!delta) continue;
        this.addString(delta, "content");
        this.addString(delta, "reasoning_content");
        this.addString(delta, "reasoning");
        const calls = delta.getArray("tool_calls");
        if (calls) {
          for (let k = 0; k < calls.length; k++) {
            const call = calls.at(k);
            const fn = call && call.isObject() ? call.getObject("function") : null;
            if (fn) this.addString(fn, "arguments");
          }
        }
      }
      return;
    }
    // Anthropic content_block_delta: text, thinking or tool input JSON.
    if (type == "content_block_delta") {
      const delta = body.getObject("delta");
      if (delta) {
        this.addString(delta, "text");
        this.addString(delta, "thinking");
        this.addString(delta, "partial_json");
      }
      return;
    }
    // OpenAI Responses: response.output_text.delta, response.function_call_arguments.delta, ...
    if (type.startsWith("response.") && type.endsWith(".delta")) {
      this.addString(body, "delta");
      return;
    }
    // Dify: answer chunks of chat apps and agents, text chunks of workflows.
    if (type == "message" || type == "agent_message") {
      this.addString(body, "answer");
      return;
    }
    if (type == "text_chunk") {
      const data = body.getObject("data");
      if (data) this.addString(data, "text");
      return;
    }
    // DashScope native: output.text, or output.choices[].message with result_format "message".
    const output = body.getObject("output");
    if (output) {
      const text = output.get("text");
      if (text && text.isString()) this.dashScopeText.add(text.asString(), this.text);
      const outChoices = output.getArray("choices");
      const choice = outChoices ? outChoices.at(0) : null;
      const message = choice && choice.isObject() ? choice.getObject("message") : null;
      if (message) {
        const content = message.get("content");
        if (content && content.isString()) this.dashScopeText.add(content.asString(), this.text);
        const reasoning = message.get("reasoning_content");
        if (reasoning && reasoning.isString()) this.dashScopeReasoning.add(reasoning.asString(), this.text);
      }
      return;
    }
    // Gemini: candidates[].content.parts[].text.
    const candidates = body.getArray("candidates");
    if (candidates) {
      for (let i = 0; i < candidates.length; i++) {
        const candidate = candidates.at(i);
        const content = candidate && candidate.isObject() ? candidate.getObject("content") : null;
        const parts = content ? content.getArray("parts") : null;
        if (!parts) continue;
        for (let k = 0; k < parts.length; k++) {
          const part = parts.at(k);
          if (part && part.isObject()) this.addString(part, "text");
        }
      }
    }
  }

  private addString(o: JsonValue, key: string): void {
    const v = o.get(key);
    if (v && v.isString()) this.text.add(v.asString());
  }
}

// A stream field that either carries new text per event or repeats all text so far: only
// what extends the previous value is new.
class RepeatedText {
  private last: string = "";

  add(text: string, into: TokenEstimator): void {
    const last = this.last;
    if (last.length > 0 && text.length >= last.length && text.startsWith(last)) into.add(text.substring(last.length));
    else into.add(text);
    this.last = text;
  }
}

function looksLikeJson(data: string): bool {
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) continue;
    return c == 0x7b || c == 0x5b; // { or [
  }
  return false;
}
