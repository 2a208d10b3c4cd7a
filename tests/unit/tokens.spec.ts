// shared/tokens.ts: the o200k_base token estimator and the chat prompt estimate. Accuracy on
// the sample sets is measured against js-tiktoken in tests/tokens/estimator.test.ts; here the
// reference counts in comments are js-tiktoken's o200k_base.
import { estimateTokens, estimateChatPromptTokens, TokenEstimator } from "../../shared/tokens";
import { parseJson } from "../../shared/json";

function within(estimate: i32, reference: i32, fraction: f64): bool {
  return <f64>abs(estimate - reference) <= <f64>reference * fraction + 0.5;
}

// Pieces are summed before rounding, so sums of separate estimates may differ by one.
function near(a: i32, b: i32): bool { return abs(a - b) <= 1; }

function chat(json: string): i32 {
  const body = parseJson(json);
  return body ? estimateChatPromptTokens(body) : -1;
}

describe("estimateTokens", () => {
  it("is 0 for empty text and at least 1 for any other", () => {
    expect(estimateTokens("")).toBe(0);
    expect(estimateTokens(" ")).toBe(1);
    expect(estimateTokens("\n")).toBe(1);
  });

  it("is close to o200k_base on English, Chinese and code", () => {
    expect(within(estimateTokens("The quick brown fox jumps over the lazy dog."), 10, 0.15)).toBe(true);
    expect(within(estimateTokens("人工智能网关可以统一管理多个大模型供应商的接口，并提供限流、鉴权和故障转移等能力。"), 29, 0.15)).toBe(true);
    expect(within(estimateTokens("export function estimateChatPromptTokens(body: JsonValue): i32 {\n  return 0;\n}\n"), 20, 0.15)).toBe(true);
  });

  it("counts digits in groups of three and splits camelCase words", () => {
    expect(estimateTokens("123")).toBe(estimateTokens("1"));
    expect(estimateTokens("1234")).toBeGreaterThan(estimateTokens("123"));
    expect(estimateTokens("getHttpResponseHeader")).toBeGreaterThanOrEqual(4); // o200k_base: 4
  });

  it("grows with the text", () => {
    const one = estimateTokens("Rate limits protect shared capacity. ");
    const many = estimateTokens("Rate limits protect shared capacity. ".repeat(20));
    expect(many).toBeGreaterThanOrEqual(one * 18);
    expect(many).toBeLessThanOrEqual(one * 22);
  });

  it("never traps on lone surrogates, controls and private-use code units", () => {
    const odd = String.fromCharCodes([0xd800, 0xdfff, 0x0000, 0xe000, 0xfffe, 0xd83d, 0x41, 0xdc00, 0x4e00, 0x9fff, 0xffff]);
    expect(estimateTokens(odd)).toBeGreaterThan(0);
  });
});

describe("TokenEstimator", () => {
  it("gives the same estimate for text added in pieces as for the whole", () => {
    const text = "Streaming deltas: 你好，世界！ fooBar(42); naïve café 😀 and\n\n    indented code";
    for (let size = 1; size < 9; size++) {
      const e = new TokenEstimator();
      for (let i = 0; i < text.length; i += size) e.add(text.substring(i, i + size));
      expect(e.tokens()).toBe(estimateTokens(text));
    }
  });

  it("keeps separate pieces from merging into one word", () => {
    const joined = new TokenEstimator();
    joined.add("user");
    joined.add("hello");
    const apart = new TokenEstimator();
    apart.addPiece("user");
    apart.addPiece("hello");
    expect(joined.tokens()).toBe(1);
    expect(apart.tokens()).toBe(2);
  });

  it("starts over after reset", () => {
    const e = new TokenEstimator();
    e.add("some words here");
    e.reset();
    expect(e.tokens()).toBe(0);
  });
});

describe("estimateChatPromptTokens", () => {
  const text = "Summarise the attached incident report in three bullet points for the on-call channel.";

  it("counts message text plus chat formatting", () => {
    const n = chat(`{"model":"gpt-4o","messages":[{"role":"user","content":"${text}"}]}`);
    // text, the role, three tokens of formatting and three priming the reply
    expect(near(n, estimateTokens(text) + 1 + 3 + 3)).toBe(true);
  });

  it("reads the same text from OpenAI, Anthropic, DashScope native and Gemini requests", () => {
    const openai = chat(`{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"${text}"}]}]}`);
    const anthropic = chat(`{"system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"${text}"}]}]}`);
    const dashscope = chat(`{"input":{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"${text}"}]}}`);
    const gemini = chat(`{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":[{"text":"${text}"}]}]}`);
    expect(openai).toBe(dashscope);
    // Anthropic and Gemini carry the system prompt outside the messages: one message less.
    expect(near(anthropic, openai - 3 - 1)).toBe(true);
    expect(near(gemini, anthropic)).toBe(true);
  });

  it("adds tool definitions, tool calls and tool results", () => {
    const plain = chat(`{"messages":[{"role":"user","content":"${text}"}]}`);
    const tools = chat(`{"messages":[{"role":"user","content":"${text}"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]}`);
    expect(tools - plain).toBeGreaterThan(20);
    const call = chat(`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Hangzhou\\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"Sunny, 24 degrees"}]}`);
    expect(call).toBeGreaterThan(3 * 2 + 3 + 10);
    const anthropicTool = chat(`{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"get_weather","input":{"city":"Hangzhou"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"Sunny, 24 degrees"}]}]}]}`);
    expect(anthropicTool).toBeGreaterThan(3 * 2 + 3 + 10);
  });

  it("counts completions prompts, embedding inputs and token ids without chat formatting", () => {
    expect(chat(`{"prompt":"${text}"}`)).toBe(estimateTokens(text));
    expect(near(chat(`{"input":["${text}","${text}"]}`), estimateTokens(text) * 2)).toBe(true);
    expect(chat(`{"input":[101,2023,2003,102]}`)).toBe(4);
    expect(near(chat(`{"input":"${text}","instructions":"Be brief."}`), estimateTokens(text) + estimateTokens("Be brief."))).toBe(true);
  });

  it("is 0 for bodies that are not requests and survives odd shapes", () => {
    expect(chat(`[1,2,3]`)).toBe(0);
    expect(chat(`"text"`)).toBe(0);
    expect(chat(`{"messages":7,"system":false,"tools":{"a":1}}`)).toBe(0);
    expect(chat(`{"messages":[null,1,"x",{"content":{"content":{"content":[[[[[[[[[["deep"]]]]]]]]]]}}}]}`)).toBeGreaterThan(0);
  });
});
