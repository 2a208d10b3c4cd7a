// shared/usage.ts: usage of every provider format, whole bodies and streams. The bodies and
// events follow the shapes in each provider's API reference (cited per case); values are
// made up. Realistic complete streams are checked in tests/tokens/usage.test.ts.
import { Usage, usageFromJson, StreamUsageTracker } from "../../shared/usage";
import { estimateTokens } from "../../shared/tokens";
import { parseJson } from "../../shared/json";

function whole(json: string): Usage {
  const body = parseJson(json);
  return body ? usageFromJson(body) : new Usage();
}

/** Feeds `events` (pairs of SSE event name and data) to a new tracker. */
function track(events: string[]): StreamUsageTracker {
  const t = new StreamUsageTracker();
  for (let i = 0; i + 1 < events.length; i += 2) t.onEvent(events[i], events[i + 1]);
  return t;
}

function expectUsage(u: Usage, input: i64, output: i64, total: i64): void {
  expect(u.input).toBe(input);
  expect(u.output).toBe(output);
  expect(u.total).toBe(total);
}

describe("OpenAI", () => {
  // https://platform.openai.com/docs/api-reference/chat/object
  it("reads a chat completion", () => {
    const u = whole(`{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],
      "usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":12},"completion_tokens_details":{"reasoning_tokens":0}}}`);
    expectUsage(u, 19, 10, 29);
    expect(u.cacheRead).toBe(12);
    expect(u.found()).toBe(true);
  });

  // https://platform.openai.com/docs/api-reference/embeddings/object
  it("reads an embedding response, which has no output", () => {
    const u = whole(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}`);
    expectUsage(u, 8, -1, 8);
    expect(u.totalTokens()).toBe(8);
  });

  // https://platform.openai.com/docs/api-reference/chat/streaming (stream_options.include_usage:
  // every chunk has "usage": null, a last chunk with empty choices carries it)
  it("reads a streamed chat completion and estimates its text", () => {
    const t = track([
      "", `{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"usage":null}`,
      "", `{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello there, "}}],"usage":null}`,
      "", `{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"how can I help?"},"finish_reason":"stop"}],"usage":null}`,
      "", `{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16}}`,
      "", "[DONE]",
    ]);
    expectUsage(t.usage(), 9, 7, 16);
    expect(t.outputText()).toBe(estimateTokens("Hello there, how can I help?"));
  });

  it("estimates reasoning and tool-call arguments when no usage comes", () => {
    const t = track([
      "", `{"choices":[{"index":0,"delta":{"reasoning_content":"The user wants weather."}}]}`,
      "", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}`,
      "", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"city\\": \\"Paris\\"}"}}]}}]}`,
    ]);
    expect(t.usage().found()).toBe(false);
    expect(t.outputText()).toBe(estimateTokens("The user wants weather.{\"city\": \"Paris\"}"));
  });

  // https://platform.openai.com/docs/api-reference/completions/object (legacy completions stream choices[].text)
  it("estimates legacy completion text", () => {
    const t = track(["", `{"object":"text_completion","choices":[{"text":"Once upon a time","index":0}]}`]);
    expect(t.outputText()).toBe(estimateTokens("Once upon a time"));
  });
});

describe("OpenAI Responses", () => {
  // https://platform.openai.com/docs/api-reference/responses/object
  it("reads a response", () => {
    const u = whole(`{"id":"resp_1","object":"response","status":"completed","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hi"}]}],
      "usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":4},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":20},"total_tokens":123}}`);
    expectUsage(u, 36, 87, 123);
    expect(u.cacheRead).toBe(4);
  });

  // https://platform.openai.com/docs/api-reference/responses-streaming (response.output_text.delta,
  // response.completed with the final response)
  it("reads response.completed of a stream", () => {
    const t = track([
      "response.created", `{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","usage":null}}`,
      "response.output_text.delta", `{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Double bubble"}`,
      "response.output_text.delta", `{"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_1","output_index":0,"content_index":0,"delta":" bath."}`,
      "response.output_text.done", `{"type":"response.output_text.done","sequence_number":6,"text":"Double bubble bath."}`,
      "response.completed", `{"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","status":"completed","usage":{"input_tokens":14,"output_tokens":5,"total_tokens":19}}}`,
    ]);
    expectUsage(t.usage(), 14, 5, 19);
    expect(t.outputText()).toBe(estimateTokens("Double bubble bath."));
  });
});

describe("Anthropic", () => {
  // https://docs.anthropic.com/en/api/messages (usage of a Message)
  it("counts cache reads and writes into the input", () => {
    const u = whole(`{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn",
      "usage":{"input_tokens":20,"output_tokens":503,"cache_creation_input_tokens":100,"cache_read_input_tokens":1800}}`);
    expect(u.input).toBe(1920);
    expect(u.uncachedInput).toBe(20);
    expect(u.cacheRead).toBe(1800);
    expect(u.cacheWrite).toBe(100);
    expect(u.output).toBe(503);
    expect(u.totalTokens()).toBe(2423);
  });

  // https://docs.anthropic.com/en/docs/build-with-claude/streaming (message_start carries the
  // message with its usage; message_delta carries the cumulative output_tokens)
  it("combines message_start and message_delta of a stream", () => {
    const t = track([
      "message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":300,"output_tokens":1}}}`,
      "content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
      "ping", `{"type": "ping"}`,
      "content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`,
      "content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}`,
      "content_block_stop", `{"type":"content_block_stop","index":0}`,
      "message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}`,
      "message_stop", `{"type":"message_stop"}`,
    ]);
    const u = t.usage();
    expect(u.input).toBe(325);
    expect(u.output).toBe(15);
    expect(u.cacheRead).toBe(300);
    expect(u.totalTokens()).toBe(340);
    expect(t.outputText()).toBe(estimateTokens("Hello!"));
  });

  it("takes input parts a later message_delta reports, field by field", () => {
    const t = track([
      "message_start", `{"type":"message_start","message":{"type":"message","usage":{"input_tokens":10,"cache_read_input_tokens":3000,"cache_creation_input_tokens":200,"output_tokens":1}}}`,
      "message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"input_tokens":472,"output_tokens":40}}`,
    ]);
    expect(t.usage().input).toBe(472 + 3000 + 200);
    expect(t.usage().output).toBe(40);
  });

  it("estimates thinking and tool input deltas", () => {
    const t = track([
      "content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me check."}}`,
      "content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"city\\":"}}`,
    ]);
    expect(t.outputText()).toBe(estimateTokens("Let me check.{\"city\":"));
  });
});

describe("DashScope native", () => {
  // https://help.aliyun.com/zh/model-studio/use-qwen-by-calling-api (DashScope, result_format "message")
  it("reads a text generation response", () => {
    const u = whole(`{"output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":"我是通义千问。"}}]},
      "usage":{"input_tokens":22,"output_tokens":17,"total_tokens":39,"prompt_tokens_details":{"cached_tokens":16}},"request_id":"a1"}`);
    expectUsage(u, 22, 17, 39);
    expect(u.cacheRead).toBe(16);
  });

  // https://help.aliyun.com/zh/model-studio/text-embedding-synchronous-api (DashScope: usage.total_tokens only)
  it("reads an embedding response", () => {
    const u = whole(`{"output":{"embeddings":[{"text_index":0,"embedding":[0.1,0.2]}]},"usage":{"total_tokens":27},"request_id":"a2"}`);
    expectUsage(u, -1, -1, 27);
    expect(u.totalTokens()).toBe(27);
  });

  // https://help.aliyun.com/zh/model-studio/qwen-image-api (usage: width, height, image_count)
  it("reads the image count of an image generation", () => {
    const u = whole(`{"output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":[{"image":"https://example.com/a.png"}]}}]},"usage":{"width":1328,"height":1328,"image_count":1},"request_id":"a3"}`);
    expect(u.images).toBe(1);
    expect(u.found()).toBe(true);
    expect(u.totalTokens()).toBe(-1);
  });

  // Same page, streaming (X-DashScope-SSE: enable; event name "result"). Without
  // incremental_output each event repeats all text so far; usage is cumulative.
  it("counts repeated text of a non-incremental stream once", () => {
    const repeated = track([
      "result", `{"output":{"choices":[{"message":{"content":"你好","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":12,"input_tokens":10,"output_tokens":2},"request_id":"r"}`,
      "result", `{"output":{"choices":[{"message":{"content":"你好，我是通义","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":16,"input_tokens":10,"output_tokens":6},"request_id":"r"}`,
      "result", `{"output":{"choices":[{"message":{"content":"你好，我是通义千问。","role":"assistant"},"finish_reason":"stop"}]},"usage":{"total_tokens":19,"input_tokens":10,"output_tokens":9},"request_id":"r"}`,
    ]);
    const incremental = track([
      "result", `{"output":{"choices":[{"message":{"content":"你好","role":"assistant"}}]},"request_id":"r"}`,
      "result", `{"output":{"choices":[{"message":{"content":"，我是通义","role":"assistant"}}]},"request_id":"r"}`,
      "result", `{"output":{"text":"千问。","finish_reason":"stop"},"request_id":"r"}`,
    ]);
    expectUsage(repeated.usage(), 10, 9, 19);
    expect(repeated.outputText()).toBe(estimateTokens("你好，我是通义千问。"));
    expect(incremental.outputText()).toBe(estimateTokens("你好，我是通义千问。"));
  });
});

describe("Gemini", () => {
  // https://ai.google.dev/api/generate-content#UsageMetadata (thoughts are output, cached content is part of the prompt)
  it("reads usageMetadata", () => {
    const u = whole(`{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP"}],
      "usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":12,"thoughtsTokenCount":30,"cachedContentTokenCount":4,"totalTokenCount":50}}`);
    expectUsage(u, 8, 42, 50);
    expect(u.cacheRead).toBe(4);
  });

  // https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent (alt=sse chunks; without alt=sse a JSON array)
  it("reads a stream, as SSE chunks or as one JSON array", () => {
    const chunk1 = `{"candidates":[{"content":{"parts":[{"text":"Gemini "}],"role":"model"}}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":2,"totalTokenCount":10}}`;
    const chunk2 = `{"candidates":[{"content":{"parts":[{"text":"streams."}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":5,"totalTokenCount":13}}`;
    const t = track(["", chunk1, "", chunk2]);
    expectUsage(t.usage(), 8, 5, 13);
    expect(t.outputText()).toBe(estimateTokens("Gemini streams."));
    expectUsage(whole(`[${chunk1},${chunk2}]`), 8, 5, 13);
  });
});

describe("Dify app API", () => {
  // langgenius/dify web/app/components/develop/template/template_advanced_chat.en.mdx (blocking
  // ChatCompletionResponse: metadata.usage)
  it("reads a blocking chat response", () => {
    const u = whole(`{"event":"message","task_id":"t","id":"m","message_id":"m","conversation_id":"c","mode":"chat","answer":"iPhone 13 Pro Max specs are listed here:...",
      "metadata":{"usage":{"prompt_tokens":1033,"prompt_unit_price":"0.001","completion_tokens":128,"total_tokens":1161,"total_price":"0.0012890","currency":"USD","latency":0.768},"retriever_resources":[]},"created_at":1705407629}`);
    expectUsage(u, 1033, 128, 1161);
  });

  // Same page: streaming "message" events carry answer chunks, "message_end" carries metadata.usage.
  it("reads message_end of a chat stream", () => {
    const t = track([
      "", `{"event":"message","task_id":"t","message_id":"m","conversation_id":"c","answer":"Hi, ","created_at":1705398420}`,
      "", `{"event":"message","task_id":"t","message_id":"m","conversation_id":"c","answer":"how are you?","created_at":1705398420}`,
      "", `{"event":"message_end","task_id":"t","message_id":"m","conversation_id":"c","metadata":{"usage":{"prompt_tokens":20,"completion_tokens":6,"total_tokens":26,"currency":"USD"}}}`,
    ]);
    expectUsage(t.usage(), 20, 6, 26);
    expect(t.outputText()).toBe(estimateTokens("Hi, how are you?"));
  });

  // template_workflow.en.mdx: workflow_finished and blocking workflow responses carry data.total_tokens;
  // text_chunk events carry data.text.
  it("reads the total of a workflow, streamed or blocking", () => {
    const t = track([
      "", `{"event":"workflow_started","task_id":"t","workflow_run_id":"w","data":{"id":"w","workflow_id":"wf","sequence_number":1,"created_at":1}}`,
      "", `{"event":"node_finished","task_id":"t","workflow_run_id":"w","data":{"id":"n","node_id":"llm","execution_metadata":{"total_tokens":50}}}`,
      "", `{"event":"text_chunk","task_id":"t","workflow_run_id":"w","data":{"text":"Workflow output"}}`,
      "", `{"event":"workflow_finished","task_id":"t","workflow_run_id":"w","data":{"id":"w","workflow_id":"wf","status":"succeeded","outputs":{},"elapsed_time":1.2,"total_tokens":50,"total_steps":3}}`,
    ]);
    expectUsage(t.usage(), -1, -1, 50);
    expect(t.outputText()).toBe(estimateTokens("Workflow output"));
    const u = whole(`{"workflow_run_id":"w","task_id":"t","data":{"id":"w","workflow_id":"wf","status":"succeeded","outputs":{"text":"ok"},"total_tokens":77,"total_steps":2}}`);
    expect(u.totalTokens()).toBe(77);
  });
});

describe("malformed input", () => {
  it("ignores [DONE], pings, comments, non-JSON and truncated data", () => {
    const t = track(["", "[DONE]", "ping", "", "", ": keep-alive", "", "{\"usage\":{\"prompt_tokens\":", "", "not json {", "error", "<html>502</html>"]);
    expect(t.usage().found()).toBe(false);
    expect(t.outputText()).toBe(0);
  });

  it("ignores wrong types and negative numbers, drops fractions and clamps huge counts", () => {
    expect(whole(`{"usage":{"prompt_tokens":"12","completion_tokens":true,"total_tokens":null}}`).found()).toBe(false);
    expect(whole(`{"usage":[1,2,3],"usageMetadata":"x","metadata":{"usage":7},"message":{"usage":[]}}`).found()).toBe(false);
    expect(whole(`{"usage":{"prompt_tokens":-5,"completion_tokens":-0.5}}`).found()).toBe(false);
    expectUsage(whole(`{"usage":{"prompt_tokens":12.9,"completion_tokens":1e300,"total_tokens":1e19}}`), 12, <i64>1 << 40, <i64>1 << 40);
    expect(whole(`{"choices":[{"delta":{"content":5}}],"usage":{"input_tokens":{"n":1}}}`).found()).toBe(false);
  });

  it("ignores error events, keeping usage reported before", () => {
    const t = track([
      "", `{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`,
      "error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
      "", `{"error":{"message":"upstream failed","code":500}}`,
    ]);
    expectUsage(t.usage(), 3, 4, 7);
  });

  it("lets later values win field by field", () => {
    const u = whole(`{"usage":{"prompt_tokens":5,"completion_tokens":1}}`);
    u.merge(whole(`{"usage":{"completion_tokens":9}}`));
    expectUsage(u, 5, 9, -1);
    expect(u.totalTokens()).toBe(14);
    u.merge(new Usage());
    expectUsage(u, 5, 9, -1);
  });

  // How the translators (shared/translate) use the class: they fill input with Anthropic's sum
  // themselves and never set uncachedInput, so merging is plain "later wins", reasoning included.
  it("merges translator counts field by field and forgets them on reset", () => {
    const u = new Usage();
    expect(u.totalTokens()).toBe(-1);
    expect(u.inputOr0()).toBe(0);
    const start = new Usage();
    start.input = 30; start.cacheRead = 20; start.output = 1;
    u.merge(start);
    const delta = new Usage();
    delta.output = 12; delta.reasoning = 4;
    u.merge(delta);
    expectUsage(u, 30, 12, -1);
    expect(u.cacheRead).toBe(20);
    expect(u.reasoning).toBe(4);
    expect(u.uncachedInput).toBe(-1);
    expect(u.totalTokens()).toBe(42);
    u.reset();
    expectUsage(u, -1, -1, -1);
    expect(u.cacheRead).toBe(-1);
    expect(u.reasoning).toBe(-1);
    expect(u.found()).toBe(false);
  });
});
