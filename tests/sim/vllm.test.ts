import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import OpenAI from 'openai';
import { Engine, LLAMA31_8B_A100 } from '../../e2e/sim/engine.ts';
import { countTokens } from '../../e2e/sim/text.ts';
import { type VllmSim, type VllmSimOptions, startVllm } from '../../e2e/sim/vllm.ts';
import { jsonEvents, parseProm, post, promValue, readSse, waitFor } from './helpers.ts';

const sims: VllmSim[] = [];
after(() => Promise.all(sims.map((s) => s.close())));
async function vllm(opts: VllmSimOptions): Promise<VllmSim> {
  const s = await startVllm(opts);
  sims.push(s);
  return s;
}

const chat = (sim: VllmSim, messages: unknown[], extra: Record<string, unknown> = {}, signal?: AbortSignal) =>
  post(`${sim.url}/v1/chat/completions`, { model: sim.model, messages, ...extra }, {}, signal);

/** Distinct sentences adding up to about `tokens` simulated tokens. */
function longText(tag: string, tokens: number): string {
  const parts: string[] = [];
  for (let i = 0; countTokens(parts.join('')) < tokens; i++) parts.push(`${tag} rule ${i}: be kind. `);
  return parts.join('');
}

describe('vLLM simulator: prefix caching', () => {
  test('TTFT drops when the prompt shares a long cached prefix', async () => {
    const sim = await vllm({ timeScale: 0.2 });
    const system = longText('policy', 12_000);
    // Headers go out on arrival, the first chunk with the first token: the gap is the TTFT the client sees.
    const ask = async (sys: string, q: string) => {
      const res = await chat(sim, [{ role: 'system', content: sys }, { role: 'user', content: q }], { stream: true, max_tokens: 2 });
      const t0 = performance.now();
      let first = 0;
      await readSse(res, (e) => { first ||= e.at; });
      return first - t0;
    };
    const coldMs = await ask(system, 'What is rule 3?');
    const warmMs = await ask(system, 'What is rule 7?');
    const otherMs = await ask(longText('manual', 12_000), 'What is rule 3?');

    const [cold, warm, other] = sim.stats().perRequest;
    assert.equal(cold.cachedTokens, 0);
    assert.ok(warm.cachedTokens > 0.95 * warm.promptTokens, `warm request reused ${warm.cachedTokens}/${warm.promptTokens} tokens`);
    assert.equal(other.cachedTokens, 0, 'a different system prompt shares only the template header, less than one block');
    // Cost model: prefill is proportional to uncached tokens.
    assert.ok(warm.ttftMs < cold.ttftMs / 10, `simulated TTFT cold ${cold.ttftMs} ms, warm ${warm.ttftMs} ms`);
    assert.ok(other.ttftMs > cold.ttftMs * 0.9, 'an uncached prompt of the same size is as slow as the first');
    // The client sees it too: real time is simulated time × 0.2 (≈240 ms cold, ≈3 ms warm, plus event-loop noise).
    assert.ok(warmMs < coldMs / 3, `client-observed TTFT cold ${coldMs.toFixed(1)} ms, warm ${warmMs.toFixed(1)} ms`);
    assert.ok(otherMs > coldMs / 2, `client-observed TTFT of another prompt ${otherMs.toFixed(1)} ms`);
    assert.equal(sim.stats().prefixHitTokens, warm.cachedTokens);
  });

  test('evicts least-recently-used blocks when the cache is full, keeping prefixes longest', async () => {
    const blocks = 100; // 1,600 tokens
    const sim = await vllm({ timeScale: 0.01, numGpuBlocks: blocks, maxNumSeqs: 1 });
    const a = [{ role: 'user', content: longText('alpha', 1000) }];
    const b = [{ role: 'user', content: longText('bravo', 1000) }];
    for (const m of [a, b, a]) await (await chat(sim, m, { max_tokens: 2 })).json();
    const [a1, , a2] = sim.stats().perRequest;
    assert.ok(sim.stats().evictedBlocks > 0, 'the second prompt needed blocks still holding the first one');
    assert.ok(a2.cachedTokens > 0, 'the prefix of the first prompt survived (a request frees its tail blocks first)');
    assert.ok(a2.cachedTokens < a1.promptTokens - 16 * 10, `only part of the first prompt was still cached (${a2.cachedTokens} of ${a1.promptTokens})`);

    // Control: with room for both, the third request reuses everything but the last partial block.
    const roomy = await vllm({ timeScale: 0.01, numGpuBlocks: 1000, maxNumSeqs: 1 });
    for (const m of [a, b, a]) await (await chat(roomy, m, { max_tokens: 2 })).json();
    const [, , again] = roomy.stats().perRequest;
    assert.equal(roomy.stats().evictedBlocks, 0);
    assert.equal(again.cachedTokens, Math.floor((again.promptTokens - 1) / 16) * 16);
  });

  test('the next turn finds the previous reply cached (generated blocks are cached, as in vLLM v1)', async () => {
    const turn2 = async (sim: VllmSim) => {
      const history = [{ role: 'user', content: longText('ask', 300) }];
      const first = await (await chat(sim, history, { max_tokens: 400 })).json();
      const reply = first.choices[0].message.content;
      assert.equal(countTokens(reply), 400, 'one simulated token of text per generated token');
      await (await chat(sim, [...history, { role: 'assistant', content: reply }, { role: 'user', content: 'And then?' }], { max_tokens: 2 })).json();
      return sim.stats().perRequest[1];
    };
    const withReply = await turn2(await vllm({ timeScale: 0.01 }));
    const promptOnly = await turn2(await vllm({ timeScale: 0.01, cacheGeneratedBlocks: false }));
    // Only the reply's last partial block (< 16 tokens) and the template around the new question (~30) are left.
    assert.ok(withReply.promptTokens - withReply.cachedTokens < 16 + 32, `uncached ${withReply.promptTokens - withReply.cachedTokens} of ${withReply.promptTokens}`);
    assert.ok(promptOnly.cachedTokens < promptOnly.promptTokens - 390, `prompt-only caching reused ${promptOnly.cachedTokens}`);
    assert.ok(withReply.ttftMs < promptOnly.ttftMs / 2, `TTFT ${withReply.ttftMs} vs ${promptOnly.ttftMs} ms`);
  });
});

describe('vLLM simulator: scheduling', () => {
  test('requests beyond max_num_seqs wait in a FIFO queue; metrics parse and reflect the load', async () => {
    const sim = await vllm({ timeScale: 0.02, maxNumSeqs: 2 });
    const N = 6;
    const responses = Array.from({ length: N }, (_, i) => chat(sim, [{ role: 'user', content: `question ${i}` }], { stream: true, max_tokens: 600 }));
    await waitFor(() => sim.stats().running === 2 && sim.stats().waiting === N - 2, 2000, 'two running, four waiting');

    const loaded = parseProm(await (await fetch(`${sim.url}/metrics`)).text());
    const label = { model_name: sim.model };
    assert.equal(loaded.get('vllm:num_requests_running')?.type, 'gauge');
    assert.equal(promValue(loaded, 'vllm:num_requests_running', undefined, label), 2);
    assert.equal(promValue(loaded, 'vllm:num_requests_waiting', undefined, label), N - 2);
    assert.ok(promValue(loaded, 'vllm:kv_cache_usage_perc') > 0);
    assert.equal(promValue(loaded, 'vllm:kv_cache_usage_perc'), promValue(loaded, 'vllm:gpu_cache_usage_perc'));

    const bodies = await Promise.all(responses.map(async (r) => jsonEvents(await readSse(await r))));
    const promptTokens = bodies.reduce((s, ev) => s + (ev.at(-1).usage?.prompt_tokens ?? 0), 0);
    const done = parseProm(await (await fetch(`${sim.url}/metrics`)).text());
    assert.equal(promValue(done, 'vllm:num_requests_running'), 0);
    assert.equal(promValue(done, 'vllm:num_requests_waiting'), 0);
    assert.equal(promValue(done, 'vllm:kv_cache_usage_perc'), 0);
    assert.equal(done.get('vllm:prefix_cache_queries_total')?.type, 'counter');
    assert.equal(promValue(done, 'vllm:generation_tokens_total'), N * 600);
    assert.equal(promValue(done, 'vllm:request_success_total', undefined, { finished_reason: 'length' }), N);
    assert.equal(promValue(done, 'vllm:time_to_first_token_seconds', 'vllm:time_to_first_token_seconds_count'), N);
    const buckets = done.get('vllm:time_to_first_token_seconds')?.samples.get('vllm:time_to_first_token_seconds_bucket') ?? [];
    assert.ok(buckets.every((b, i) => i === 0 || b.value >= buckets[i - 1].value), 'histogram buckets are cumulative');
    assert.equal(buckets.at(-1)?.labels.le, '+Inf');
    assert.equal(promptTokens, 0, 'no usage chunk unless stream_options.include_usage');
    assert.equal(promValue(done, 'vllm:prompt_tokens_total'), sim.stats().perRequest.reduce((s, r) => s + r.promptTokens, 0));

    // Admitted in arrival order, and each of the last four exactly when an earlier request finished and freed a slot.
    const recs = sim.stats().perRequest.slice().sort((x, y) => x.arrivalMs - y.arrivalMs);
    const admitted = recs.map((r) => r.arrivalMs + r.queueMs);
    assert.deepEqual(admitted, admitted.slice().sort((x, y) => x - y), 'FIFO');
    const finishes = recs.map((r) => r.arrivalMs + r.e2eMs);
    for (const t of admitted.slice(2)) assert.ok(finishes.some((f) => Math.abs(f - t) < 1e-6), `admitted at ${t}, finishes ${finishes.join(', ')}`);
    assert.ok(recs.slice(2).every((r) => r.queueMs > 0));
  });

  test('decode time per token grows with the running batch', async () => {
    // Straight on the engine, so all requests arrive at the same simulated instant.
    const engine = new Engine({ blockSize: 16, numGpuBlocks: 10_000, maxNumSeqs: 256, maxNumBatchedTokens: 8192, enablePrefixCaching: true, timeScale: 0.01, cost: LLAMA31_8B_A100 });
    const run = (n: number) => Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve) => {
      engine.submit({ promptTokens: 20, hashes: [], maxOutput: 50, finishReason: 'length' }, { token() {}, finish: () => resolve() });
    })));
    const perToken = () => engine.records.map((r) => (r.e2eMs - r.ttftMs) / (r.outputTokens - 1));
    try {
      await run(1);
      const single = perToken();
      engine.resetStats();
      await run(32);
      const batched = perToken();
      assert.ok(Math.abs(single[0] - 12.5) < 1e-9, `batch 1: ${single[0]} ms/token (12 + 0.5)`);
      assert.ok(batched.every((t) => Math.abs(t - 28) < 1e-9), `batch 32: ${batched.join(', ')} ms/token (12 + 0.5 × 32)`);
    } finally {
      engine.stop();
    }
  });

  test('the gpu option selects the cost model and the KV-cache size', async () => {
    const prompt = [{ role: 'user', content: longText('gpu', 2000) }];
    const ttft = async (gpu: 'a100' | 'l20') => {
      const sim = await vllm({ timeScale: 0.01, gpu });
      await (await chat(sim, prompt, { max_tokens: 1 })).json();
      return { ttft: sim.stats().perRequest[0].ttftMs, tokens: sim.stats().perRequest[0].promptTokens, capacity: sim.engine.capacityTokens };
    };
    const a = await ttft('a100');
    const l = await ttft('l20');
    assert.ok(Math.abs(a.ttft - (12 + a.tokens / 10)) < 1e-6, `A100 TTFT ${a.ttft} ms`);
    assert.ok(Math.abs(l.ttft - (18.5 + l.tokens / 3.7)) < 1e-6, `L20 TTFT ${l.ttft} ms`);
    assert.deepEqual([a.capacity, l.capacity], [25_000 * 16, 12_900 * 16]);
  });

  test('long prompts are prefilled in chunks of max_num_batched_tokens, one step each', async () => {
    const sim = await vllm({ timeScale: 0.01, maxNumBatchedTokens: 1024 });
    await (await chat(sim, [{ role: 'user', content: longText('chunk', 3000) }], { max_tokens: 1 })).json();
    const [r] = sim.stats().perRequest;
    const steps = Math.ceil(r.promptTokens / 1024);
    assert.equal(steps, 3);
    // Each step pays the fixed 12 ms; prefill is 0.1 ms per token.
    assert.ok(Math.abs(r.ttftMs - (steps * 12 + r.promptTokens * 0.1)) < 1e-6, `TTFT ${r.ttftMs} ms`);
  });

  test('a full KV cache preempts running requests, which still finish', async () => {
    const sim = await vllm({ timeScale: 0.002, numGpuBlocks: 24 });
    const replies = await Promise.all(Array.from({ length: 4 }, async (_, i) =>
      (await chat(sim, [{ role: 'user', content: `long answer ${i}` }], { max_tokens: 200 })).json()));
    assert.ok(sim.stats().preemptions > 0);
    for (const r of replies) assert.equal(r.usage.completion_tokens, 200);
    assert.equal(sim.stats().kvUsage, 0);
  });

  test('a client that disconnects is aborted and frees its blocks', async () => {
    const sim = await vllm({ timeScale: 0.01 });
    const ac = new AbortController();
    const res = await chat(sim, [{ role: 'user', content: 'tell me everything' }], { stream: true, max_tokens: 20000 }, ac.signal);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    assert.equal(sim.stats().running, 1);
    ac.abort();
    await waitFor(() => sim.stats().aborted === 1, 2000, 'abort');
    assert.equal(sim.stats().running, 0);
    assert.equal(sim.stats().kvUsage, 0);
  });
});

describe('vLLM simulator: OpenAI wire format', () => {
  test('stream with include_usage ends with an empty-choices usage chunk, then [DONE]', async () => {
    const sim = await vllm({ timeScale: 0.01 });
    const events = await readSse(await chat(sim, [{ role: 'user', content: 'hi' }], { stream: true, max_tokens: 5, stream_options: { include_usage: true } }));
    assert.equal(events.at(-1)?.data, '[DONE]');
    const chunks = jsonEvents(events);
    assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
    const usageChunk = chunks.at(-1);
    assert.deepEqual(usageChunk.choices, []);
    assert.equal(usageChunk.usage.completion_tokens, 5);
    assert.equal(usageChunk.usage.total_tokens, usageChunk.usage.prompt_tokens + 5);
    const content = chunks.slice(1, -1);
    assert.equal(content.length, 5);
    assert.ok(content.every((c) => c.object === 'chat.completion.chunk' && !('usage' in c)));
    assert.equal(content.at(-1).choices[0].finish_reason, 'length');
    assert.ok(content.slice(0, -1).every((c) => c.choices[0].finish_reason === null));
  });

  test('legacy /v1/completions: text_completion objects, same engine and cache', async () => {
    const sim = await vllm({ timeScale: 0.01 });
    const prompt = longText('doc', 600);
    const whole = await (await post(`${sim.url}/v1/completions`, { model: sim.model, prompt: `${prompt} Q1`, max_tokens: 3 })).json();
    assert.equal(whole.object, 'text_completion');
    assert.equal(whole.choices[0].text.split(' ').length, 3);
    assert.equal(whole.choices[0].finish_reason, 'length');
    const chunks = jsonEvents(await readSse(await post(`${sim.url}/v1/completions`, { model: sim.model, prompt: `${prompt} Q2`, max_tokens: 3, stream: true, stream_options: { include_usage: true } })));
    assert.deepEqual(chunks.map((c) => c.object), ['text_completion', 'text_completion', 'text_completion', 'text_completion']);
    assert.equal(chunks.slice(0, 3).map((c) => c.choices[0].text).join('').split(' ').length, 3);
    assert.deepEqual(chunks[3].choices, []);
    assert.equal(chunks[3].usage.completion_tokens, 3);
    assert.ok(sim.stats().perRequest[1].cachedTokens >= 580, 'the shared document prefix was reused');
    assert.equal((await post(`${sim.url}/v1/completions`, { model: sim.model, messages: [] })).status, 400);
  });

  test('output is deterministic per prompt and seed; length is drawn when max_tokens is absent', async () => {
    const a = await vllm({ timeScale: 0.01, seed: 7, outputTokens: { min: 10, max: 40 } });
    const b = await vllm({ timeScale: 0.01, seed: 7, outputTokens: { min: 10, max: 40 } });
    const c = await vllm({ timeScale: 0.01, seed: 8, outputTokens: { min: 10, max: 40 } });
    const msgs = [{ role: 'user', content: 'same prompt' }];
    const [ra, rb, rc] = await Promise.all([a, b, c].map(async (s) => (await chat(s, msgs)).json()));
    assert.equal(ra.choices[0].message.content, rb.choices[0].message.content);
    assert.notEqual(ra.choices[0].message.content, rc.choices[0].message.content);
    assert.equal(ra.choices[0].finish_reason, 'stop');
    const n = ra.usage.completion_tokens;
    assert.ok(n >= 10 && n <= 40);
    assert.equal(ra.choices[0].message.content.split(' ').length, n, 'one filler word per token');
  });

  test('errors use vLLM\'s envelope: unknown model 404, context overflow 400, bad key 401', async () => {
    const sim = await vllm({ timeScale: 0.01, maxModelLen: 100, apiKeys: ['k1'] });
    const auth = { authorization: 'Bearer k1' };
    const wrongModel = await post(`${sim.url}/v1/chat/completions`, { model: 'nope', messages: [{ role: 'user', content: 'x' }] }, auth);
    assert.equal(wrongModel.status, 404);
    assert.deepEqual(Object.keys((await wrongModel.json()).error).sort(), ['code', 'message', 'param', 'type']);
    const tooLong = await post(`${sim.url}/v1/chat/completions`, { model: sim.model, messages: [{ role: 'user', content: 'x'.repeat(1000) }] }, auth);
    assert.equal(tooLong.status, 400);
    const body = await tooLong.json();
    assert.equal(body.error.code, 400);
    assert.match(body.error.message, /maximum context length is 100 tokens/);
    const noKey = await post(`${sim.url}/v1/chat/completions`, { model: sim.model, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(noKey.status, 401);
    assert.equal((await fetch(`${sim.url}/metrics`)).status, 200, 'metrics need no key');
  });

  test('the openai npm client reads the stream and the non-stream reply alike', async () => {
    const sim = await vllm({ timeScale: 0.01 });
    const client = new OpenAI({ apiKey: 'unused', baseURL: `${sim.url}/v1`, maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'Say something' }];
    const whole = await client.chat.completions.create({ model: sim.model, messages, max_tokens: 12 });
    const stream = await client.chat.completions.create({ model: sim.model, messages, max_tokens: 12, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage;
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? '';
      if (c.usage) usage = c.usage;
    }
    assert.equal(text, whole.choices[0].message.content);
    assert.deepEqual(usage, whole.usage && { prompt_tokens: whole.usage.prompt_tokens, total_tokens: whole.usage.total_tokens, completion_tokens: 12 });
    const models = await client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), [sim.model]);
  });
});
