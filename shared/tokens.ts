// Token estimates without a tokenizer, for when no provider usage is known yet: admission in
// the rate limiter, and streamed text of providers that report no usage.
//
// One pass over the UTF-16 code units counts a few text features modelled on o200k_base's
// pre-tokenizer (Latin words split at lower→upper case changes, digit groups of three,
// punctuation runs, whitespace and newline runs, CJK characters), and the estimate is their
// weighted sum. The weights were fitted against js-tiktoken's o200k_base on the calibration
// samples in tests/fixtures/tokens/ by tests/tokens/calibrate.ts, which also prints the
// errors on the held-out samples.
import { JsonValue } from "./json";

/** Indices of TokenEstimator.counts. */
export const enum TokenFeature {
  Word,              // a run of Latin letters; a lower→upper change starts a new one
  WordExcess,        // each letter past the sixth of a word (long words split)
  WordLongExcess,    // each letter past the twelfth: compounds, identifiers, base64 split much more
  DigitGroup,        // each started group of three digits
  SpaceBeforeDigit,  // a space before digits is a token of its own
  PunctRun,          // a run of ASCII/general punctuation
  PunctExtra,        // each further punctuation char that differs from the one before
  SpaceRun,          // a run of two or more spaces (indentation), and each further 64
  NewlineRun,        // a run of line breaks
  NewlineAfterPunct, // line breaks right after punctuation often merge into it
  HanCommon,         // a CJK ideograph that o200k_base merges into multi-character tokens
  HanSingle,         // a CJK ideograph that is a token of its own only
  HanRare,           // any other CJK ideograph (two or three byte-level tokens)
  CjkPunct,          // CJK and full-width punctuation/forms
  KanaHangul,        // kana, hangul
  OtherLetter,       // letters of other scripts (Greek, Cyrillic, Arabic, Indic, ...)
  Symbol,            // other symbols: emoji, arrows, box drawing, private use
  Count,
}

// Tokens per unit of each feature, fitted by calibrate.ts (WordLongExcess, KanaHangul,
// OtherLetter and Symbol mostly on the small "other" sample set).
// The tables here are @lazy: plugins that import this file without estimating anything (the
// translators, through shared/usage.ts) do not carry them, HAN_CLASS alone being 5 KB.
// @ts-ignore: decorator
@lazy const WEIGHTS: StaticArray<f64> = [
  // BEGIN WEIGHTS (written by calibrate.ts --write)
  1.026, 0.009, 0.48, 1.206, 1.125, 0.77, 0.228, 1.029, 1.275, 0.249, 0.735, 1.226, 2.931, 0.252, 0.73, 0.355, 1.881,
  // END WEIGHTS
];

const enum CharClass { None, Lower, Upper, Digit, Space, Newline, Punct, Han, CjkPunct, KanaHangul, OtherLetter, Symbol, LowSurrogate }

// CharClass of each ASCII code unit (1 Lower, 2 Upper, 3 Digit, 4 Space, 5 Newline, 6 Punct).
// @ts-ignore: decorator
@lazy const ASCII_CLASS: usize = memory.data<u8>([
  // 0x00-0x1f: controls; \t and \v \f are spaces, \n \r line breaks
  6, 6, 6, 6, 6, 6, 6, 6, 6, 4, 5, 4, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
  // 0x20-0x3f: space, punctuation, digits
  4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 6, 6, 6, 6, 6, 6,
  // 0x40-0x5f: @, upper case, [\]^_
  6, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 6, 6, 6, 6, 6,
  // 0x60-0x7f: `, lower case, {|}~ DEL
  6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 6, 6, 6, 6, 6,
]);

// The HanCommon/HanSingle/HanRare feature of the ideograph U+4E00..U+9FFF `c`.
function hanFeature(c: u32): TokenFeature {
  const i = c - 0x4e00;
  const code = (<u32>load<u8>(HAN_CLASS + (i >>> 2)) >>> ((i & 3) << 1)) & 3;
  return code == 2 ? TokenFeature.HanCommon : code == 1 ? TokenFeature.HanSingle : TokenFeature.HanRare;
}

function classify(c: u32): CharClass {
  if (c < 0x80) return load<u8>(ASCII_CLASS + c);
  if (c < 0x3000) {
    if (c < 0xc0) return c == 0xa0 ? CharClass.Space : CharClass.Punct;
    if (c < 0x250) return c == 0xd7 || c == 0xf7 ? CharClass.Punct : CharClass.Lower; // Latin-1, Latin Extended
    if (c >= 0x1100 && c < 0x1200) return CharClass.KanaHangul; // Hangul Jamo
    if (c < 0x2000) return CharClass.OtherLetter;
    if (c < 0x200b) return CharClass.Space;
    if (c == 0x2028 || c == 0x2029) return CharClass.Newline;
    if (c < 0x2070) return CharClass.Punct; // dashes, quotes, bullets
    return CharClass.Symbol;
  }
  if (c < 0x3040) return CharClass.CjkPunct;
  if (c < 0x3200) return CharClass.KanaHangul; // kana, bopomofo, compatibility jamo
  if (c < 0x3400) return CharClass.Symbol; // enclosed and compatibility CJK
  if (c < 0xa000) return CharClass.Han;
  if (c < 0xac00) return CharClass.OtherLetter; // Yi, Vai, ...
  if (c < 0xd800) return CharClass.KanaHangul; // Hangul syllables
  if (c < 0xdc00) return c >= 0xd840 && c < 0xd880 ? CharClass.Han : CharClass.Symbol; // high surrogate: ideographs of plane 2, else emoji etc.
  if (c < 0xe000) return CharClass.LowSurrogate;
  if (c < 0xf900) return CharClass.Symbol; // private use
  if (c < 0xfb00) return CharClass.Han; // compatibility ideographs
  if (c >= 0xfe10 && c < 0xfe70) return CharClass.CjkPunct; // vertical and small forms
  if (c >= 0xff00 && c < 0xfff0) return CharClass.CjkPunct; // full-width forms
  return c >= 0xfe00 && c < 0xfe10 || c >= 0xfff0 ? CharClass.Symbol : CharClass.OtherLetter;
}

/**
 * Streaming estimator: `add` pieces of text, read `tokens()` at any time. Adding text in
 * pieces gives the same estimate as adding it whole.
 */
export class TokenEstimator {
  /** Feature counts so far, indexed by TokenFeature. */
  readonly counts: StaticArray<i32> = new StaticArray<i32>(TokenFeature.Count);
  private prev: CharClass = CharClass.None;
  private prevUnit: u32 = 0;
  private run: i32 = 0; // length of the current word, digit or space run
  private empty: bool = true;

  reset(): void {
    memory.fill(changetype<usize>(this.counts), 0, TokenFeature.Count << 2);
    this.prev = CharClass.None;
    this.prevUnit = 0;
    this.run = 0;
    this.empty = true;
  }

  /** Adds text that continues the text added before (the next piece of a stream). */
  add(text: string): void {
    const counts = changetype<usize>(this.counts);
    let prev = this.prev;
    let prevUnit = this.prevUnit;
    let run = this.run;
    const start = changetype<usize>(text);
    const end = start + (<usize>text.length << 1);
    if (start < end) this.empty = false;
    for (let p = start; p < end; p += 2) {
      const c = <u32>load<u16>(p);
      const cls = classify(c);
      if (cls == CharClass.Lower && prev == CharClass.Lower) { // fast path: the middle of a word
        const excess = letterFeature(++run);
        if (excess >= 0) bump(counts, excess);
        prevUnit = c;
        continue;
      }
      let feature = -1;
      switch (cls) {
        case CharClass.Lower:
        case CharClass.Upper: {
          // Lower after lower was handled above. After upper case the word goes on ("HTTPServer");
          // after anything else, lower→upper included, a new word starts.
          if (prev == CharClass.Upper) feature = letterFeature(++run);
          else { feature = TokenFeature.Word; run = 0; }
          break;
        }
        case CharClass.Digit: {
          if (prev != CharClass.Digit) {
            run = 0;
            if (prev == CharClass.Space) bump(counts, TokenFeature.SpaceBeforeDigit);
          }
          if (run++ % 3 == 0) feature = TokenFeature.DigitGroup;
          break;
        }
        case CharClass.Punct: {
          if (prev != CharClass.Punct) feature = TokenFeature.PunctRun;
          else if (c != prevUnit) feature = TokenFeature.PunctExtra;
          break;
        }
        case CharClass.Space: {
          if (prev != CharClass.Space) run = 0;
          if (++run % 64 == 2) feature = TokenFeature.SpaceRun;
          break;
        }
        case CharClass.Newline: {
          if (prev != CharClass.Newline) feature = prev == CharClass.Punct ? TokenFeature.NewlineAfterPunct : TokenFeature.NewlineRun;
          break;
        }
        case CharClass.Han: {
          feature = c >= 0x4e00 && c < 0xa000 ? hanFeature(c) : TokenFeature.HanRare;
          break;
        }
        case CharClass.CjkPunct: { feature = TokenFeature.CjkPunct; break; }
        case CharClass.KanaHangul: { feature = TokenFeature.KanaHangul; break; }
        case CharClass.OtherLetter: { feature = TokenFeature.OtherLetter; break; }
        case CharClass.Symbol: { feature = TokenFeature.Symbol; break; }
        default: continue; // the low half of a surrogate pair was counted with its high half
      }
      if (feature >= 0) bump(counts, feature);
      prev = cls;
      prevUnit = c;
    }
    this.prev = prev;
    this.prevUnit = prevUnit;
    this.run = run;
  }

  /** Adds text that stands apart from the text added before (another message or field). */
  addPiece(text: string): void {
    this.prev = CharClass.None;
    this.run = 0;
    this.add(text);
  }

  /** Estimated o200k_base tokens of the text added so far: 0 for none, else at least 1. */
  tokens(): i32 {
    if (this.empty) return 0;
    let sum: f64 = 0;
    for (let i = 0; i < TokenFeature.Count; i++) sum += <f64>unchecked(this.counts[i]) * unchecked(WEIGHTS[i]);
    if (sum < 1) return 1;
    return sum >= <f64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>Math.round(sum);
  }
}

// The feature of a word's letter at 0-based position `run`: -1 for the first six letters.
// @ts-ignore: decorator
@inline function letterFeature(run: i32): i32 {
  return run >= 12 ? TokenFeature.WordLongExcess : run >= 6 ? TokenFeature.WordExcess : -1;
}

// @ts-ignore: decorator
@inline function bump(counts: usize, feature: i32): void {
  const at = counts + (<usize>feature << 2);
  store<i32>(at, load<i32>(at) + 1);
}

// @ts-ignore: decorator
@lazy const oneShot = new TokenEstimator();

/** Estimated o200k_base token count of `text`: 0 for "", at least 1 otherwise. */
export function estimateTokens(text: string): i32 {
  if (text.length == 0) return 0;
  oneShot.reset();
  oneShot.add(text);
  return oneShot.tokens();
}

/**
 * Estimated prompt tokens of a chat/completion/embedding request in the OpenAI (chat,
 * completions, embeddings, Responses), Anthropic, DashScope native or Gemini format: the
 * text of messages and their content parts, system prompts and instructions, tool calls
 * and results, plus the chat formatting per message and the JSON text of tool definitions.
 * Images, audio and files are not counted. 0 for anything that is not a JSON object.
 */
export function estimateChatPromptTokens(body: JsonValue): i32 {
  if (!body.isObject()) return 0;
  const prompt = new PromptCounter();
  const input = body.get("input");
  let messages = body.getArray("messages");
  if (!messages && input && input.isObject()) messages = input.getArray("messages"); // DashScope native
  if (!messages) messages = body.getArray("contents"); // Gemini
  if (messages) prompt.messages(messages);
  else if (input && input.isArray()) prompt.messages(input); // Responses items, embedding inputs
  else if (input) prompt.content(input.isObject() ? input.get("prompt") : input, 0); // DashScope prompt, a plain input
  prompt.content(body.get("system"), 0); // Anthropic
  prompt.content(body.get("systemInstruction"), 0); // Gemini
  prompt.content(body.get("system_instruction"), 0);
  prompt.content(body.get("instructions"), 0); // Responses
  prompt.content(body.get("prompt"), 0); // completions
  prompt.content(body.get("query"), 0); // Dify apps
  prompt.tools(body.getArray("tools"));
  prompt.tools(body.getArray("functions")); // OpenAI's legacy function definitions
  const parameters = body.getObject("parameters");
  if (parameters) prompt.tools(parameters.getArray("tools")); // DashScope native
  return prompt.tokens();
}

// Chat formatting around each message (as tiktoken's chat-format count: three tokens per
// message, and three that prime the reply).
const TOKENS_PER_MESSAGE = 3;
const TOKENS_REPLY_PRIMING = 3;
// Content parts nest (tool results hold blocks, Gemini parts hold calls); deeper is not content.
const MAX_CONTENT_DEPTH = 8;

class PromptCounter {
  text: TokenEstimator = new TokenEstimator();
  fixed: i64 = 0; // formatting tokens and token ids given as numbers

  tokens(): i32 {
    const sum = <i64>this.text.tokens() + this.fixed;
    return sum >= <i64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>sum;
  }

  // Message objects get the chat formatting; strings and token ids are plain input.
  messages(list: JsonValue): void {
    let chat = false;
    for (let i = 0; i < list.length; i++) {
      const m = list.at(i);
      if (!m) continue;
      if (m.isObject()) { chat = true; this.fixed += TOKENS_PER_MESSAGE; }
      this.content(m, 1);
    }
    if (chat) this.fixed += TOKENS_REPLY_PRIMING;
  }

  // Tool definitions reach the model as a rendering of their schema; their JSON text is a
  // close, slightly generous stand-in.
  tools(list: JsonValue | null): void {
    if (!list) return;
    for (let i = 0; i < list.length; i++) {
      const tool = list.at(i);
      if (tool) this.text.addPiece(tool.toString());
    }
  }

  // A message or content part of any of the formats: a string, a token id, an array of
  // parts, or an object whose text-bearing fields are added and nested parts walked.
  content(v: JsonValue | null, depth: i32): void {
    if (!v || depth > MAX_CONTENT_DEPTH) return;
    if (v.isString()) { this.text.addPiece(v.asString()); return; }
    if (v.isNumber()) { if (depth > 0) this.fixed++; return; } // token ids of completions/embeddings
    if (v.isArray()) {
      for (let i = 0; i < v.length; i++) this.content(v.at(i), depth + 1);
      return;
    }
    if (!v.isObject()) return;
    // Role and name of messages, text parts, thinking blocks, reasoning in history, tool
    // call arguments (OpenAI) and tool outputs (Responses).
    this.string(v, "role");
    this.string(v, "name");
    this.string(v, "text");
    this.string(v, "thinking");
    this.string(v, "reasoning_content");
    this.string(v, "arguments");
    this.string(v, "output");
    // Nested parts: message content, Gemini parts, OpenAI tool calls and their function.
    this.content(v.get("content"), depth + 1);
    this.content(v.get("parts"), depth + 1);
    this.content(v.getArray("tool_calls"), depth + 1);
    this.content(v.getObject("function"), depth + 1);
    this.content(v.getObject("functionCall"), depth + 1);
    this.content(v.getObject("functionResponse"), depth + 1);
    // Structured tool input (Anthropic tool_use), Gemini call arguments and results.
    this.json(v, "input");
    this.json(v, "args");
    this.json(v, "response");
  }

  private string(v: JsonValue, key: string): void {
    const s = v.get(key);
    if (s && s.isString()) this.text.addPiece(s.asString());
  }

  private json(v: JsonValue, key: string): void {
    const o = v.get(key);
    if (o && (o.isObject() || o.isArray())) this.text.addPiece(o.toString());
  }
}

// Two bits per ideograph U+4E00+i, low bits first: 2 if it occurs in an o200k_base token of
// two or more ideographs, 1 if it is a token only on its own, 0 if it is split into bytes.
// @ts-ignore: decorator
@lazy const HAN_CLASS: usize = memory.data<u64>([
  // BEGIN HAN_CLASS (written by calibrate.ts --han-table --write)
  0x0a21228028aa808a, 0x24a5112208211a00, 0x88054102218a0840, 0x1000008a0000200a,
  0x20a00a28628a2020, 0x8020001026849208, 0x000a294014a00806, 0x0880a02002100a80,
  0x842a800844200008, 0x0201020180002102, 0x02480881a8002000, 0x8000008000040042,
  0x0880000000802000, 0x8000080040004089, 0x0800400000100290, 0x0020000420000008,
  0x4008001808400000, 0x1210000000800204, 0x0220000040008000, 0x4800910000000800,
  0x0008000000000400, 0x0000404002010000, 0x0000040084000000, 0x0008000000000000,
  0x0000000000000200, 0x8000000000200000, 0x00200119088a1988, 0x0a82a6890a868800,
  0x028800100a112800, 0x0080889101000002, 0x0400000082042001, 0x08a1000284001206,
  0x0899802400106001, 0x0062a00200880602, 0x0000000408104010, 0x0000042080148100,
  0xa080000000004000, 0x80040098002a000a, 0x8408082000004000, 0x4000000000000210,
  0x0004a00000000800, 0x80a4000000000000, 0x00219990a0228089, 0x0001418a00804019,
  0x8012080000842820, 0x8080000000021000, 0x0002a1082aa60060, 0x0002a0a282a02a80,
  0x904084092a1a0280, 0x104901008282a000, 0x0002000000210001, 0x0980048000020010,
  0x0000100002400000, 0x0000000000120000, 0x0000000008020008, 0x0000001004201808,
  0x0000000200000000, 0x00000004a0000000, 0x0000000080102000, 0x0000000000202400,
  0x0601000000100200, 0x0000a00010000000, 0x0000000010000000, 0x0000000040000000,
  0x0040000010040000, 0x4000010000000000, 0x0200000000000000, 0x0000000000020000,
  0x0000000000000000, 0x0000000000000000, 0x2080000000000000, 0x2820025208000062,
  0x8001201000821000, 0x2020008200020080, 0x04a0800940108012, 0x0000000000101008,
  0x0000000000800080, 0x0000000000000000, 0x8000010020000040, 0x0028000000000000,
  0x0000000000000020, 0x0000060800000004, 0x1001010400000000, 0x0000000000800000,
  0x2004404000000080, 0x0000000000010000, 0x0000000000008004, 0x0000002210800000,
  0x8220240088088200, 0x0014020820a88010, 0x0000a20440858000, 0x0806a18000000800,
  0x1004104000028020, 0x0088000010000000, 0x0110028a00801000, 0x4000000000010000,
  0x0182000000004048, 0x0000000800000000, 0x0010000000002000, 0x0000800000002000,
  0x0000002000000000, 0x0800004000000000, 0x0000000002000014, 0x0000000000080000,
  0x0000000000040000, 0x0000000000000000, 0x4006850200000000, 0x0002000000082180,
  0xa922400042498888, 0xa4082140104002a9, 0x8400005002002100, 0x629a100000411000,
  0x04201208a4a16224, 0x5621000800000200, 0x200008004050082a, 0x0000000840000400,
  0x0080800000000008, 0x0001004004040004, 0x0000000000000000, 0x0000100100000004,
  0x0000000010000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
  0x0000000000000000, 0x0000000000000000, 0x2800000000000000, 0x004002282002a808,
  0x08002002020204a8, 0x0402104168802000, 0x0000080000000400, 0x858212a000000000,
  0x42008a8080102180, 0x000080000840a000, 0x0000000000040000, 0x0020600000000040,
  0x4002480080200162, 0x0024840400000001, 0x0000089000000000, 0x0184000900081020,
  0x1000802102820a05, 0x0800824020240004, 0x0206800004001880, 0x0400080000804001,
  0x0800141020000009, 0x0080000000108404, 0x0000002200400000, 0x0000100080040020,
  0x4000000000040000, 0x0000001000122082, 0x0100000800100800, 0x0000008040010002,
  0x8080000080000000, 0x4000000000000000, 0x0000000010810000, 0x0000000200008010,
  0x0000000000000000, 0x0000000000000000, 0x0000000000040020, 0x0000000000000000,
  0x0002201a80000001, 0x8041912100201000, 0x000104a818800002, 0xa008200501888040,
  0x1101484000100002, 0x0500040400400a10, 0x8181215008081800, 0x9200004002090800,
  0x0000000800088028, 0x0010000040000888, 0x4000080000000000, 0x0000800020000020,
  0x0040002001060040, 0x0000002000228824, 0x0080002280040000, 0x0000010008000004,
  0x1200000080000000, 0x0010000005000000, 0x0002000000005200, 0x0002000000080000,
  0x1000001400000040, 0x0001000018000100, 0x0010000008100000, 0x0000000000001000,
  0x0400000000000000, 0xa088200080000000, 0x0008400841020800, 0x0001060201001050,
  0x0008800000008000, 0x0908000288000200, 0x0000800080400804, 0x0010200005095812,
  0x8000018022001010, 0x2100080084020802, 0x0020006000400020, 0x00201101a0020000,
  0x0000500400004020, 0x0000010010010000, 0x0a00000000000000, 0x6105022100000000,
  0x84808000088a0082, 0x0020000486610000, 0x8100000a900410a2, 0x9000000988010808,
  0x0610800200000208, 0x0000100000100000, 0x0200018140000100, 0x0040024400000800,
  0x0000400880408000, 0x020a800000200008, 0x0000000401021050, 0x0000100000000440,
  0x0400000000000404, 0x0000000240012000, 0x0010001000800002, 0x0000000020000000,
  0x0200001008000000, 0x0000000000000000, 0x0010000000000000, 0x0900040008000000,
  0x0200000000000020, 0x0000000000000000, 0x0002000000400000, 0x0400000000000000,
  0x0004004000000020, 0x0000000000100048, 0x8000000000400000, 0x1004000000000000,
  0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
  0x0000000000100000, 0x2010001000008069, 0x0000008202040000, 0x0080415000082aa4,
  0x0000100000a00000, 0x0010080000000000, 0x00800a2094000404, 0x0000000000800000,
  0x0000820840000000, 0x0002020000004080, 0x8000400000088024, 0x0810000000000109,
  0x4008102000050048, 0x4088008000100018, 0x0040080000140108, 0x0400004200020424,
  0x2040400000800004, 0x2080002000100800, 0x01080040a0802408, 0x0000810010281000,
  0x00440040000a0000, 0x0000041040062000, 0x0002000000000000, 0x0080400800400004,
  0x0040000100010800, 0x0002000081080006, 0x0001200000000000, 0x6000000000000000,
  0x0000100200000001, 0x0000000000200000, 0x0020000400400000, 0x4000010000010208,
  0x0000020080000020, 0x0000000000800010, 0x0101010000000000, 0x0000000024000000,
  0x0000000000000000, 0x0000008000000008, 0x0000000000000002, 0x0000000000000000,
  0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x1000040144400040,
  0x0000001010040000, 0x011a000010000000, 0x4000000000020000, 0x0000000008005000,
  0x0000000000000000, 0x0100200000001008, 0x0004000001000000, 0x0000000000008100,
  0x8000000000100000, 0x0000000800000000, 0x4000040000000040, 0x0000000000000000,
  0x0000000000002000, 0x0802580a00000000, 0x0084000002028000, 0x0008002000084024,
  0x0000000000000000, 0x0000200081000000, 0x0000800200000020, 0x0202000002000002,
  0x0280000010000000, 0x0000010020900000, 0x0000000000000000, 0x0001000000000000,
  0x0040200000848200, 0x0040001280080000, 0x0000000004000000, 0x2000000004000001,
  0x0000000000002080, 0x0000014000200000, 0x1000000000000000, 0x0000000000000000,
  0x0000000000000040, 0x0000000100000000, 0x0100000000000000, 0x0000100000001040,
  0x8121000000000000, 0x0091889900020060, 0x0008000002000400, 0x0000100100a00800,
  0x0000800400002000, 0x2100001080800000, 0x2040000000004800, 0x0000000000000000,
  0x0000000000000000, 0x0000000000000000, 0x0000000001000010, 0x2aa0000000000000,
  0x0000000000009200, 0x0000000010000000, 0x8082602900221000, 0x2002020020000140,
  0x8000000002840008, 0x0100000000000001, 0x0040000000000002, 0x0000000000000084,
  0x0000000000000000, 0x0000000001000000, 0x0000000000000000, 0x4000004008040800,
  0x0000220000000018, 0x0000020000000000, 0x0000040000000002, 0x0000000021000000,
  0x0000000414000000, 0x0120000200000000, 0x0000000000000004, 0x0000000000010000,
  0x0000000000000000, 0x2220000000000000, 0x2400100000000000, 0x0000000004020800,
  0x0000000080000008, 0x1480000000008000, 0x800200280840000a, 0x0080000280001000,
  0x0000000024800000, 0x8000008820000000, 0x0000000004001000, 0x4020210000000000,
  0x0400800008000008, 0x0000000000000800, 0x6008000000800000, 0x0004100080000802,
  0x0000010400000000, 0x0000000002002000, 0x0040220800481000, 0x2004000000000000,
  0x0000800000000002, 0x0000000804000008, 0x0000000000048001, 0x0000000020000000,
  0x0000000000000000, 0x0000000000000004, 0x0000000008000000, 0x0080008000000000,
  0x0000401000080000, 0x2000000010000200, 0x0000140000000000, 0x0080000000000000,
  0x0024010008000601, 0x0008000280804022, 0x0000000202000120, 0x0000102400002004,
  0x0020004000000000, 0x0000002004000000, 0x0020001040000000, 0x0000000000020001,
  0x0000000000000100, 0x1400000020000000, 0x0000000000000004, 0x0000000000000000,
  0x0000000001000000, 0x880544504220a021, 0x860904888802a280, 0x8200020008188000,
  0x0002208000000000, 0x0010020000080000, 0x0020800800000000, 0x0000002020240000,
  0x1000000020100400, 0x0800000000040200, 0x0000011001000004, 0x0240000000000001,
  0x000040010200088a, 0x0000004000000000, 0x2022020002200000, 0x0000401080100000,
  0x0000200001040040, 0x0010002040040508, 0x1200100012002040, 0x0801100000000004,
  0x0010000800000010, 0x0002000400000000, 0x0000040100000000, 0x6004004100000000,
  0x0100000000000000, 0x0400000000000000, 0x0000000000000001, 0x0010028004200080,
  0x5000812004014000, 0x0004000202200000, 0x0000000000008000, 0x1020406040000000,
  0x0400000000000020, 0x0401004841000000, 0x0000400884000000, 0x0008000800001400,
  0x0000000000000080, 0x0001100000000000, 0x0000001200080000, 0x0000400040000084,
  0x1000004010040000, 0x0000801400400000, 0x0200000001000000, 0x0000002040000002,
  0x0400000001000100, 0x0800000002010800, 0x0040400000040000, 0x0000000000000088,
  0x0008000000000010, 0x0000001000000000, 0x0800000000000000, 0x0000000000000000,
  0x0000000000000000, 0x0000000000000004, 0x0000000000080000, 0x0000000000040000,
  0x0000000000000100, 0x0000000001102000, 0x0800000080000000, 0x0000000000000100,
  0x0000000000000000, 0x0000000000000000, 0x4010040920000000, 0x0804000000400000,
  0x0000000000000000, 0x0000000000000000, 0x0080000000804000, 0x0000000000000000,
  0x0102000000000010, 0x0000000000000000, 0x0000000000000000, 0x0000100000000000,
  0x0000000008000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
  0x0000000000000000, 0x0000000000000000, 0x0040408002000002, 0x0000000000020484,
  0x0200100000400000, 0x0000000004800000, 0x0504040040000814, 0x0402000000000100,
  0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x8000000000200000,
  0x0010200040402008, 0x0400004000108000, 0x00000020000a222a, 0x0000000000001080,
  0x0002000010220012, 0x0210004408100000, 0x1000080000000000, 0x0000008800001010,
  0x1002000009080000, 0x400000110a200000, 0x0000200000408000, 0x0000000000000000,
  0x0440000000000000, 0x0000000000000000, 0x0001000000040000, 0x0000800100002000,
  0x0000004000100002, 0xa0220022a80a0228, 0x08204804081a220a, 0x20a1820488002820,
  0x0100008000410088, 0x0000400800010020, 0x0000000000102000, 0x0008000000200008,
  0x0000000001000000, 0x0181400001090009, 0x1000000000008001, 0x0200000000200000,
  0x8800000000000000, 0x000a8a00888269a8, 0x20a0120042400204, 0x0000950200400121,
  0x0000000000a00800, 0x0000008000000080, 0x4800000801000040, 0x0000084080020000,
  0x0000000040000000, 0x0000000000140000, 0x0000000000000000, 0x0000000000000000,
  0x0000000000000004, 0x0000000000800000, 0x0000000004100000, 0x0400000000000020,
  0x0000000000080080, 0x0001000040100000, 0x0000000000040000, 0x0880010092092000,
  0x1040108800042880, 0x2a14001500011040, 0x698a020a20018804, 0x0804400200600000,
  0x802402118018105a, 0x0142001800000082, 0x0000858014508020, 0x8001040024040441,
  0x0000000400000102, 0x0040000020102080, 0x0000000420000000, 0x0800040004020000,
  0x0000000000000000, 0x0000000000000000, 0x0000002008000000, 0x0001400000000000,
  0x0000002000040000, 0x0000000000400000, 0x00000008aa208000, 0x0000000000000000,
  0x0000000000000000, 0x0000000000000000, 0x0000000000000100, 0x0000010000000000,
  0x0000000000000002, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
  0x0000000000000100, 0x0000002040000000, 0x0000000000000000, 0x0000040000000000,
  0x0000000000000000, 0x0000000000000000, 0x0000000000010000, 0x0000000000000000,
  0x0002000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000800000,
  0x8000000000020000, 0x0040000820000410, 0x0100000000000048, 0x2010200008000000,
  0x0008000100800406, 0x0000000020001004, 0x0100000000004000, 0x8000400000000000,
  0x0000008000840002, 0x0000001800000020, 0x0200000000000000, 0x0080021028120000,
  0x8000000000000804, 0x404025a000200000, 0x0000080209012a00, 0x0410540100180220,
  0x0240010290101000, 0x2000000000000000, 0x1004040400002a02, 0x0080a00000210050,
  0x1000000004004002, 0x0002002000000000, 0x2004102000000000, 0x0000000000080022,
  0x0000000000400000, 0x0000000000000000, 0x0000008000000000, 0x4000008000082000,
  0x0001000100012858, 0x0180000004000000, 0x2001010006000000, 0x5098280000000000,
  0x0a02500800002200, 0x0000000000020000, 0xa040000020000000, 0x0000001040000000,
  0x0000000200100000, 0x0000000000010000, 0x0000000000000000, 0x0000000214000000,
  0x0008200000021000, 0x0000000001010000, 0x0000000000000400, 0x0000000000000000,
  0x0000008000000000, 0x0000000000000000, 0x0000400000000000, 0x2040200602000000,
  0x0010800402000000, 0x0000000100010200, 0x0002020000000000, 0x0000000000000000,
  0x0000000000000000, 0x0100000000000000, 0x0010020040000410, 0x0000000000000000,
  0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
  0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0200000000000000,
  0x0100000000000008, 0x0001000000000000, 0x0000000000000000, 0x0000000000000400,
  0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
  0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
  0x4000000000000000, 0x8000000004000044, 0x0000000040000800, 0x4000000200000000,
  0x8000402000000000, 0x0180000000001000, 0x1002001820000280, 0x0000000000000000,
  0x0000004020000000, 0x0040000000000001, 0x0000000100000000, 0x0000000000000010,
  0x0008000004000200, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
  // END HAN_CLASS
]);
