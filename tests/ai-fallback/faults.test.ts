// ai-fallback under injected faults: the primary (a simulated vLLM) fails in every way the simulators
// can, and the client must get the fallback's answer, marked with who served it.
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { Host } from "../../host/index.ts";
import type { SimServer } from "../../e2e/sim/common.ts";
import { startVllm, type VllmSim } from "../../e2e/sim/vllm.ts";
import { startDashScope, startOpenAI, type DashScopeSim, type OpenAISim } from "../../e2e/sim/providers.ts";
import { BACKUP, PRIMARY, QWEN, WASM, chat, header, openAiStreamText, post, setup } from "./harness.ts";

let vllm: VllmSim;
let backup: OpenAISim;
let qwen: DashScopeSim;
let host: Host | null = null;

before(async () => {
  vllm = await startVllm({ timeScale: 0.01, seed: 1 });
  backup = await startOpenAI({ timeScale: 0.01, seed: 2, apiKeys: ["sk-backup"] });
  qwen = await startDashScope({ timeScale: 0.01, seed: 3, apiKeys: ["sk-qwen"] });
});
after(async () => {
  await vllm.close();
  await backup.close();
  await qwen.close();
});
afterEach(() => {
  host?.close();
  host = null;
  for (const s of [vllm, backup, qwen]) { s.clearFailures(); s.clearRequests(); }
});

const toBackup = { name: "backup", cluster: BACKUP, model: "gpt-4o-mini", headers: { authorization: "Bearer sk-backup" } };
const toQwen = { name: "qwen", cluster: QWEN, model: "qwen-plus", protocol: "dashscope", headers: { authorization: "Bearer sk-qwen" } };

async function start(config: object, routeTimeoutMs?: number, primary: SimServer = vllm): Promise<Host> {
  host = await setup({
    config: { primary: { name: "vllm" }, ...config },
    clusters: { [PRIMARY]: primary, [BACKUP]: backup, [QWEN]: qwen },
    routeTimeoutMs,
  });
  return host;
}

/** A well-formed OpenAI chat completion from `model`. */
function assertCompletion(text: string, model: string): void {
  const j = JSON.parse(text);
  assert.equal(j.object, "chat.completion");
  assert.equal(j.model, model);
  assert.ok(j.choices[0].message.content.length > 0);
}

describe("ai-fallback: primary healthy", () => {
  it("passes the primary's answer untouched and says who served it", async () => {
    const h = await start({ fallbacks: [toBackup] });
    const r = await post(h, chat());
    assert.equal(r.status, 200);
    assert.equal(r.details, "via_upstream");
    assertCompletion(r.text, "meta-llama/Llama-3.1-8B-Instruct");
    assert.equal(header(r, "x-ai-served-by"), "vllm; model=meta-llama/Llama-3.1-8B-Instruct");
    assert.equal(header(r, "x-ai-fallback-from"), undefined);
    assert.equal(backup.requests.length, 0);
  });

  it("passes a streamed answer once its first event is good", async () => {
    const h = await start({ fallbacks: [toBackup] });
    const r = await post(h, chat({ stream: true }));
    assert.equal(r.status, 200);
    assert.equal(r.details, "via_upstream");
    assert.ok(openAiStreamText(r.text).length > 0);
    assert.ok(r.chunks.length > 2, "the stream still reaches the client event by event");
    assert.equal(header(r, "x-ai-served-by"), "vllm; model=meta-llama/Llama-3.1-8B-Instruct");
    assert.equal(backup.requests.length, 0);
  });

  it("passes a compressed 2xx answer without judging its body", async () => {
    const answer = gzipSync(JSON.stringify({ object: "chat.completion", model: "m", choices: [] }));
    host = new Host({ clusters: {
      [PRIMARY]: { handler: () => ({ status: 200, headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: answer }) },
      [BACKUP]: { endpoints: [`127.0.0.1:${backup.port}`] },
    } });
    await host.addPlugin({ name: "ai-fallback", wasm: WASM, config: { fallbacks: [toBackup] } });
    host.addRoute({ name: "chat", cluster: PRIMARY });
    const r = await post(host, chat());
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, answer);
    assert.equal(backup.requests.length, 0);
  });

  it("without primary.name the route's cluster names the primary (stat names sanitised)", async () => {
    host = await setup({ config: { fallbacks: [toBackup] }, clusters: { [PRIMARY]: vllm, [BACKUP]: backup } });
    const r = await post(host, chat());
    assert.equal(header(r, "x-ai-served-by"), `${PRIMARY}; model=meta-llama/Llama-3.1-8B-Instruct`);
    assert.equal(host.metric("ai_fallback.outbound_8000__vllm_static.attempts"), 1);
  });

  it("does not fall back on a status outside on_status (400)", async () => {
    const h = await start({ fallbacks: [toBackup] });
    vllm.inject({ status: 400, message: "bad request", times: 1 });
    const r = await post(h, chat());
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.text).error.message, "bad request");
    assert.equal(backup.requests.length, 0);
  });
});

describe("ai-fallback: primary fails", () => {
  for (const status of [500, 503, 429]) {
    it(`falls back on ${status}: model rewritten, target's credentials, client's key kept back`, async () => {
      const h = await start({ fallbacks: [toBackup] });
      vllm.inject({ status, times: 1 });
      const r = await post(h, chat({ temperature: 0.2 }));
      assert.equal(r.status, 200);
      assert.equal(r.details, "via_ai_fallback");
      assertCompletion(r.text, "gpt-4o-mini");
      assert.equal(header(r, "x-ai-served-by"), "backup; model=gpt-4o-mini");
      assert.equal(header(r, "x-ai-fallback-from"), "vllm");
      assert.equal(header(r, "x-ai-fallback-tried"), `vllm=${status}`);
      assert.equal(vllm.requests.length, 1);
      const sent = backup.requests[0];
      assert.equal(sent.path, "/v1/chat/completions");
      assert.equal(sent.headers.authorization, "Bearer sk-backup");
      assert.deepEqual(sent.body, { ...chat({ temperature: 0.2 }), model: "gpt-4o-mini" });
    });
  }

  it("falls back when the primary resets the connection", async () => {
    const h = await start({ fallbacks: [toBackup] });
    vllm.inject({ reset: true, times: 1 });
    const r = await post(h, chat());
    assert.equal(r.status, 200);
    assertCompletion(r.text, "gpt-4o-mini");
    assert.equal(header(r, "x-ai-fallback-tried"), "vllm=reset");
  });

  it("on_reset: false leaves resets alone: no fallback, and not counted against the primary", async () => {
    const h = await start({ fallbacks: [toBackup], on_reset: false, circuit_breaker: { failure_threshold: 1 } });
    vllm.inject({ reset: true, times: 1 });
    const r = await post(h, chat());
    assert.equal(r.status, 503);
    assert.match(r.details ?? "", /^upstream_reset_before_response_started/);
    assert.equal(header(r, "x-ai-served-by"), undefined);
    const next = await post(h, chat());
    assert.equal(header(next, "x-ai-served-by"), "vllm; model=meta-llama/Llama-3.1-8B-Instruct");
    assert.equal(backup.requests.length, 0);
  });

  it("falls back when the primary hangs past the plugin's timeout", async () => {
    const h = await start({ fallbacks: [toBackup], timeout: 300 });
    vllm.inject({ hang: true, times: 1 });
    const t0 = Date.now();
    const r = await post(h, chat());
    const took = Date.now() - t0;
    assert.equal(r.status, 200);
    assertCompletion(r.text, "gpt-4o-mini");
    assert.equal(header(r, "x-ai-fallback-tried"), "vllm=timeout");
    assert.ok(took >= 300 && took < 10000, `answered after ${took} ms`);
  });

  it("falls back when the route's own timeout fires (504 upstream_response_timeout)", async () => {
    const h = await start({ fallbacks: [toBackup], timeout: 60000 }, 300);
    vllm.inject({ hang: true, times: 1 });
    const r = await post(h, chat());
    assert.equal(r.status, 200);
    assert.equal(header(r, "x-ai-fallback-tried"), "vllm=timeout");
  });

  it("falls back on a malformed 200 body", async () => {
    const h = await start({ fallbacks: [toBackup] });
    vllm.inject({ malformed: true, times: 1 });
    const r = await post(h, chat());
    assert.equal(r.status, 200);
    assertCompletion(r.text, "gpt-4o-mini");
    assert.equal(header(r, "x-ai-fallback-tried"), "vllm=malformed");
  });

  it("falls back on a malformed first stream event, answering with a whole valid stream", async () => {
    const h = await start({ fallbacks: [toBackup] });
    vllm.inject({ malformed: true, times: 1 });
    const r = await post(h, chat({ stream: true }));
    assert.equal(r.status, 200);
    assert.match(r.headers["content-type"], /text\/event-stream/);
    assert.ok(openAiStreamText(r.text).length > 0);
    assert.equal(header(r, "x-ai-served-by"), "backup; model=gpt-4o-mini");
    assert.equal(header(r, "x-ai-fallback-tried"), "vllm=malformed");
    assert.equal(backup.requests[0].body.stream, true);
  });

  it("falls back on a streamed request's 503", async () => {
    const h = await start({ fallbacks: [toBackup] });
    vllm.inject({ status: 503, times: 1 });
    const r = await post(h, chat({ stream: true, stream_options: { include_usage: true } }));
    assert.equal(r.status, 200);
    assert.ok(openAiStreamText(r.text).length > 0);
    assert.ok(r.text.includes('"usage":{'), "the fallback's usage trailer reaches the client");
  });

  it("falls back when a streamed request's primary sends nothing within first_byte_timeout", async () => {
    const h = await start({ fallbacks: [toBackup], first_byte_timeout: 200 });
    vllm.inject({ firstByteDelayMs: 1500, times: 1 });
    const r = await post(h, chat({ stream: true }));
    assert.equal(r.status, 200);
    assert.equal(header(r, "x-ai-fallback-tried"), "vllm=timeout");
    assert.ok(openAiStreamText(r.text).length > 0);
  });

  it("falls back when a stream's headers came but its first event is later than first_byte_timeout", async () => {
    // A provider that sends its headers at once and its first token after 1.5 s.
    const slow = await startOpenAI({ ttftMs: 1500, tokenMs: 1, timeScale: 1 });
    try {
      const h = await start({ fallbacks: [toBackup], first_byte_timeout: 200 }, undefined, slow);
      const r = await post(h, chat({ model: "gpt-4o", stream: true }));
      assert.equal(r.status, 200);
      assert.equal(header(r, "x-ai-fallback-tried"), "vllm=timeout");
      assert.equal(header(r, "x-ai-served-by"), "backup; model=gpt-4o-mini");
      assert.ok(openAiStreamText(r.text).length > 0);
      assert.equal(slow.requests.length, 1);
    } finally {
      host?.close();
      host = null;
      await slow.close();
    }
  });

  it("keeps waiting on a slow primary when no fallback is configured", async () => {
    const h = await start({ fallbacks: [], timeout: 100 });
    vllm.inject({ firstByteDelayMs: 400, times: 1 });
    const r = await post(h, chat());
    assert.equal(r.status, 200);
    assert.equal(header(r, "x-ai-served-by"), "vllm; model=meta-llama/Llama-3.1-8B-Instruct");
  });

  it("walks the list: the first fallback fails too, the second answers", async () => {
    const h = await start({ fallbacks: [toBackup, toQwen] });
    vllm.inject({ status: 502, times: 1 });
    backup.inject({ status: 429, times: 1 });
    const r = await post(h, chat());
    assert.equal(r.status, 200);
    assertCompletion(r.text, "qwen-plus");
    assert.equal(header(r, "x-ai-served-by"), "qwen; model=qwen-plus");
    assert.equal(header(r, "x-ai-fallback-tried"), "vllm=502, backup=429");
  });

  it("stops at max_attempts", async () => {
    const h = await start({ fallbacks: [toBackup, toQwen], max_attempts: 2 });
    vllm.inject({ status: 500, times: 1 });
    backup.inject({ status: 500, times: 1 });
    const r = await post(h, chat());
    assert.equal(r.status, 500);
    assert.equal(qwen.requests.length, 0);
  });

  it("falls back when a fallback itself hangs past its timeout", async () => {
    const h = await start({ fallbacks: [{ ...toBackup, timeout: 200 }, toQwen] });
    vllm.inject({ status: 500, times: 1 });
    backup.inject({ hang: true, times: 1 });
    const r = await post(h, chat());
    assert.equal(r.status, 200);
    assert.equal(header(r, "x-ai-fallback-tried"), "vllm=500, backup=timeout");
  });
});

describe("ai-fallback: across protocols (OpenAI client, DashScope fallback)", () => {
  it("translates a non-streamed request and its answer", async () => {
    const h = await start({ fallbacks: [toQwen] });
    vllm.inject({ status: 503, times: 1 });
    const r = await post(h, chat({ temperature: 0.3 }));
    assert.equal(r.status, 200);
    assertCompletion(r.text, "qwen-plus");
    assert.equal(header(r, "x-ai-served-by"), "qwen; model=qwen-plus");
    const sent = qwen.requests[0];
    assert.equal(sent.path, "/api/v1/services/aigc/text-generation/generation");
    assert.equal(sent.headers.authorization, "Bearer sk-qwen");
    assert.equal(sent.body.model, "qwen-plus");
    assert.deepEqual(sent.body.input.messages, [{ role: "user", content: "Say hello" }]);
    assert.equal(sent.body.parameters.temperature, 0.3);
    const usage = JSON.parse(r.text).usage;
    assert.ok(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
  });

  it("translates a streamed request into an OpenAI stream", async () => {
    const h = await start({ fallbacks: [toQwen] });
    vllm.inject({ status: 503, times: 1 });
    const r = await post(h, chat({ stream: true }));
    assert.equal(r.status, 200);
    assert.match(r.headers["content-type"], /text\/event-stream/);
    const text = openAiStreamText(r.text);
    assert.ok(text.length > 0);
    assert.equal(qwen.requests[0].headers["x-dashscope-sse"], "enable");
    assert.equal(qwen.requests[0].body.parameters.incremental_output, true);
  });

  it("translates the fallback's error when it is the answer (401 is not a trigger)", async () => {
    const h = await start({ fallbacks: [{ ...toQwen, headers: { authorization: "Bearer wrong" } }] });
    vllm.inject({ status: 503, times: 1 });
    const r = await post(h, chat());
    assert.equal(r.status, 401);
    const e = JSON.parse(r.text).error;
    assert.equal(e.message, "Invalid API-key provided.");
    assert.equal(header(r, "x-ai-served-by"), "qwen; model=qwen-plus");
  });
});

describe("ai-fallback: hostile requests", () => {
  it("garbage bodies, deep nesting and odd headers reach no trap; every request is answered", async () => {
    const h = await start({ fallbacks: [toBackup, toQwen] });
    const bodies: Array<string | Uint8Array> = [
      "", "{", "[]", "null", '{"model":', '{"model":"\\u12', "\u0000\u0001", "[".repeat(100_000), `{"a":${"[".repeat(5000)}`,
      '{"model":"x","stream":true,"messages":"not a list"}', Uint8Array.from([0xff, 0xfe, 0x7b, 0x22, 0xc3]),
      JSON.stringify({ model: "\u{1F600}".repeat(50), stream: true, messages: [{ role: "user", content: "\ud800" }] }),
    ];
    for (const [i, body] of bodies.entries()) {
      vllm.inject({ status: 503, times: 1 });
      const r = await h.request({ method: "POST", path: i % 2 ? "/v1/chat/completions" : "/api/v1/services/aigc/text-generation/generation",
        authority: "gateway.local", headers: { "content-type": "application/json", "x-dashscope-sse": "enable", accept: "text/event-stream" }, body });
      assert.ok(r.status >= 200 && r.status < 600, `body ${i}: status ${r.status}`);
      assert.equal(r.reset, false, `body ${i}`);
    }
    assert.equal(h.trapCount(), 0);
  });
});

describe("ai-fallback: nothing left", () => {
  it("answers with the last error and the list of what was tried", async () => {
    const h = await start({ fallbacks: [toBackup, toQwen] });
    vllm.inject({ status: 503, times: 1 });
    backup.inject({ status: 500, times: 1 });
    qwen.inject({ status: 429, times: 1 });
    const r = await post(h, chat());
    assert.equal(r.status, 429);
    assert.equal(r.details, "ai_fallback_exhausted");
    assert.equal(header(r, "x-ai-fallback-tried"), "vllm=503, backup=500, qwen=429");
    const e = JSON.parse(r.text).error;
    assert.equal(e.code, "all_fallbacks_failed");
    assert.match(e.message, /vllm=503, backup=500, qwen=429/);
    assert.match(e.message, /last error: qwen: Requests rate limit exceeded/);
  });

  it("answers a 504 when the last target timed out, and never hangs", async () => {
    const h = await start({ fallbacks: [{ ...toBackup, timeout: 150 }], timeout: 150 });
    vllm.inject({ hang: true, times: 1 });
    backup.inject({ hang: true, times: 1 });
    const t0 = Date.now();
    const r = await post(h, chat({ stream: true }));
    assert.equal(r.status, 504);
    assert.ok(Date.now() - t0 < 10000);
    assert.equal(header(r, "x-ai-fallback-tried"), "vllm=timeout, backup=timeout");
  });

  it("passes the primary's error through when no fallback could be asked", async () => {
    const h = await start({ fallbacks: [{ ...toBackup, cluster: "outbound|1||missing.dns" }] });
    vllm.inject({ status: 500, message: "engine dead", times: 1 });
    const r = await post(h, chat());
    assert.equal(r.status, 500);
    assert.equal(JSON.parse(r.text).error.message, "engine dead");
    assert.equal(header(r, "x-ai-fallback-tried"), "vllm=500, backup=unusable");
  });
});
